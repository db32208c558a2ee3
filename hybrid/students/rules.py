"""RuleListStudent: an ordered IF–THEN list a person can audit, extracted from a soft tree.

Fit: grow a TreeStudent on the teacher's probabilities (optionally on the states plus a few
oblique projections, below); turn each leaf's path into one rule; fold the path's tests into
one interval per feature (so ``x > 0.1 AND x > 0.3`` becomes ``x > 0.3``); merge rules with the
same action whose boxes touch along one feature and agree elsewhere (leaves are disjoint, so this
changes no decision); order the rules by coverage, largest first, so the common case is checked
first; with ``simplify=True``, drop the bounds whose outside earlier rules already catch. With
``max_rules=K`` the rules predicting the default action (the action covering most states) are
dropped — the default decides those states the same way — and then the K rules covering most are kept; the rest fall to the default, re-chosen as the teacher's most likely
action on the states no rule covers. Each rule records its coverage and its confidence
(agreement with the teacher's argmax) on the training states.

Oblique conditions (``oblique=True``): for each action against the rest (with more than two
actions) and for each pair of actions, a logistic regression on the teacher's labels picks the
three most telling standardised features; a second one on those three alone gives the weights
(rounded to 4 significant digits, so the text shows exactly what runs). The tree may then split
on these projections as on any feature: a condition tests ``w·x[features]`` against an interval,
with at most three features; axis-aligned conditions are the one-feature case, weight 1. Pairs
matter: on LunarLander they lifted a 32-rule list from 80% to 89% of the teacher's return.

Every condition is evaluated in double arithmetic, left to right, against double bounds that
reproduce the tree's float32 split exactly (``f32_split_bound``): numpy, the Python export and the
C export therefore decide identically. Rules can abstain: ``match`` gives the index of the rule
deciding each state, or -1 where only the default applies (HybridStudent uses this).

Cost: operations per decision = comparisons (one per interval end) plus multiply-adds (oblique
weights) of every rule tried up to the deciding one, averaged over training states — the same
rule as TreeStudent's path length. Parameters = bounds + oblique weights + one action per rule
and the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights, register, resolve_names
from hybrid.students._boxes import drop_covered_bounds, leaf_boxes, merge_boxes
from hybrid.students.tree import TreeStudent
from provenance.hashing import canonical_json

MAX_OBLIQUE_FEATURES = 3


@dataclass(frozen=True)
class Condition:
    """``lower < Σ weights[i]·x[features[i]] <= upper``; a missing bound is ``None``."""

    features: tuple[int, ...]
    weights: tuple[float, ...]
    lower: float | None
    upper: float | None

    def value(self, X: np.ndarray) -> np.ndarray:
        """The tested quantity per state, in double, summed left to right (as the exports do)."""
        z = self.weights[0] * X[:, self.features[0]].astype(np.float64)
        for f, w in zip(self.features[1:], self.weights[1:]):
            z = z + w * X[:, f].astype(np.float64)
        return z

    def holds(self, X: np.ndarray) -> np.ndarray:
        z = self.value(X)
        ok = np.ones(X.shape[0], dtype=bool)
        if self.lower is not None:
            ok &= z > self.lower
        if self.upper is not None:
            ok &= z <= self.upper
        return ok

    @property
    def oblique(self) -> bool:
        return self.weights != (1.0,)

    @property
    def operations(self) -> int:
        """Comparisons (one per bound) plus multiply-adds of an oblique projection."""
        return (self.lower is not None) + (self.upper is not None) + (len(self.features) if self.oblique else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "weights": list(self.weights), "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        return cls(tuple(d["features"]), tuple(d["weights"]), d["lower"], d["upper"])


@dataclass(frozen=True)
class Rule:
    """IF every condition holds THEN ``action``; ``proba`` = mean teacher probabilities it covers."""

    conditions: tuple[Condition, ...]
    action: int
    proba: tuple[float, ...]
    coverage: float
    confidence: float

    def holds(self, X: np.ndarray) -> np.ndarray:
        ok = np.ones(X.shape[0], dtype=bool)
        for c in self.conditions:
            ok &= c.holds(X)
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "conditions": [c.to_dict() for c in self.conditions],
            "action": self.action,
            "proba": list(self.proba),
            "coverage": self.coverage,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rule:
        return cls(tuple(Condition.from_dict(c) for c in d["conditions"]), int(d["action"]), tuple(d["proba"]), d["coverage"], d["confidence"])


@register
class RuleListStudent(Student):
    """An ordered rule list with a default action, extracted from a tree on teacher probabilities.

    Parameters
    ----------
    max_depth, max_leaf_nodes, min_samples_leaf: size of the tree the rules come from.
    max_rules: keep at most this many rules (besides the default); ``None`` keeps every leaf.
    oblique: also let conditions test a weighted sum of up to three features.
    simplify: drop every bound whose outside earlier rules already catch (shorter rules, same
        decisions); rules then overlap and read correctly only in order. Without it every rule
        is a disjoint box, so any subset can be switched on alone (as HybridStudent does).
    random_state: seed of the tree's tie-breaking.
    """

    family = "rules"
    searched_by_default = True
    search_order = 20
    colour = "#d95f02"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Axis-aligned lists first, then oblique ones (a condition may weigh up to three
        features): on LunarLander only the latter keep the teacher's return within 32 rules."""
        return [
            *({"max_depth": d, "max_rules": r} for d, r in ((2, None), (3, None), (4, None), (5, 16))),
            {"max_depth": None, "max_leaf_nodes": 40, "max_rules": 32},
            *({"max_depth": d, "oblique": True} for d in (2, 3, 4)),
            {"max_depth": None, "max_leaf_nodes": 40, "max_rules": 32, "oblique": True, "simplify": True},
        ]

    def __init__(
        self,
        max_depth: int | None = 4,
        max_rules: int | None = None,
        max_leaf_nodes: int | None = None,
        min_samples_leaf: int = 5,
        oblique: bool = False,
        simplify: bool = False,
        random_state: int = 0,
    ) -> None:
        self.max_depth = max_depth
        self.max_rules = max_rules
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.oblique = oblique
        self.simplify = simplify
        self.random_state = random_state

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        P: Any,
        sample_weight: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
    ) -> RuleListStudent:
        """Extract the rule list; names (optional) are used by ``to_text`` and kept in the artifact."""
        X = check_states(X)
        P = check_targets(P, X.shape[0])
        w = check_weights(sample_weight, X.shape[0])
        if self.max_rules is not None and self.max_rules < 0:
            raise ParameterError(f"max_rules must be ≥ 0 or None; got {self.max_rules!r}.")
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, P.shape[1], "action_", "action_names", "actions")
        self.n_features_in_, self.n_actions_ = X.shape[1], P.shape[1]

        columns: list[tuple[tuple[int, ...], tuple[float, ...]]] = [((f,), (1.0,)) for f in range(X.shape[1])]
        if self.oblique:
            columns += oblique_directions(X, P.argmax(axis=1), w)
        A = np.column_stack([Condition(f, wt, None, None).value(X) for f, wt in columns])
        tree = TreeStudent(
            max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state
        ).fit(A, P, w)
        leaves = leaf_boxes(tree)
        boxes = [box for box, _ in merge_boxes(leaves)]

        def as_rules(boxes: list[dict]) -> list[Rule]:
            return [Rule(tuple(Condition(columns[c][0], columns[c][1], lo, hi) for c, (lo, hi) in sorted(b.items())), 0, (), 0.0, 0.0) for b in boxes]

        self.rules_ = as_rules(boxes)
        self._describe(X, P, w)  # coverage first: it orders and prunes
        order = sorted(range(len(boxes)), key=lambda i: -self.rules_[i].coverage)
        if self.max_rules is not None:
            actions = [r.action for r in self.rules_]
            top_action = np.argmax(np.bincount(actions, [r.coverage for r in self.rules_], P.shape[1]))
            order = [i for i in order if actions[i] != top_action][: self.max_rules]
        kept = [boxes[i] for i in order]
        self.rules_ = as_rules(drop_covered_bounds(kept, [box for box, _ in leaves]) if self.simplify else kept)
        self._describe(X, P, w)
        return self

    def _describe(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """Set each rule's probabilities, action, coverage and confidence, and the default's,
        from the training states each decides; also the expected operations per decision."""
        fired = self.match(X)
        labels = P.argmax(axis=1)
        weights = np.ones(X.shape[0]) if w is None else w
        rules = []
        for i, rule in enumerate([*self.rules_, None]):
            mine = fired == (i if rule is not None else -1)
            if rule is None and not mine.any():  # nothing falls to the default: most common action overall
                mine = np.ones(X.shape[0], dtype=bool)
            proba = (np.average(P[mine], axis=0, weights=weights[mine]) if weights[mine].sum() > 0 else P[mine].mean(axis=0)).tolist()
            action = int(np.argmax(proba))
            coverage = float(np.mean(fired == (i if rule is not None else -1)))
            confidence = float(np.mean(labels[mine] == action))
            if rule is None:
                self.default_action_, self.default_proba_ = action, tuple(proba)
                self.default_coverage_, self.default_confidence_ = coverage, confidence
            else:
                rules.append(Rule(rule.conditions, action, tuple(proba), coverage, confidence))
        self.rules_ = rules
        checks = np.cumsum([sum(c.operations for c in r.conditions) for r in rules] or [0])
        self.expected_operations_ = float(np.mean(np.where(fired >= 0, checks[np.maximum(fired, 0)], checks[-1])))

    # -- inference ----------------------------------------------------------------------------
    def match(self, X: Any) -> np.ndarray:
        """Index of the first rule that holds for each state, or -1 where only the default applies."""
        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_)
        fired = np.full(X.shape[0], -1, dtype=np.int64)
        open_ = np.arange(X.shape[0])
        for i, rule in enumerate(self.rules_):
            hit = rule.holds(X[open_])
            fired[open_[hit]] = i
            open_ = open_[~hit]
        return fired

    def predict_proba(self, X: Any) -> np.ndarray:
        """The deciding rule's mean teacher probabilities (the default's where no rule holds)."""
        fired = self.match(X)
        table = np.array([r.proba for r in self.rules_] + [self.default_proba_], dtype=np.float64)
        return table[fired]  # -1 picks the default, the last row

    # -- text ---------------------------------------------------------------------------------
    def condition_text(self, c: Condition) -> str:
        """``pole_angle > 0.031``, ``-0.2 < x <= 0.4`` or ``0.5·x + 1·v > 0.1``."""
        term = term_text(c, self.feature_names_)
        if c.lower is not None and c.upper is not None:
            return f"{c.lower:.4g} < {term} <= {c.upper:.4g}"
        return f"{term} > {c.lower:.4g}" if c.lower is not None else f"{term} <= {c.upper:.4g}"

    def rule_text(self, rule: Rule) -> str:
        """``IF <conditions> THEN <action>`` with feature and action names (``OTHERWISE <action>``
        for a rule left without conditions because earlier rules catch everything else)."""
        if not rule.conditions:
            return f"OTHERWISE {self.action_names_[rule.action]}"
        conditions = " AND ".join(self.condition_text(c) for c in rule.conditions)
        return f"IF {conditions} THEN {self.action_names_[rule.action]}"

    def to_text(self) -> str:
        """The whole list, one rule a line with coverage and agreement, then the default (unless
        a last rule without conditions leaves it nothing)."""
        self._check_fitted()
        lines = [f"{self.rule_text(r)}   # covers {r.coverage:.1%}, agrees {r.confidence:.1%}" for r in self.rules_]
        if not (self.rules_ and not self.rules_[-1].conditions):
            lines.append(
                f"{'ELSE' if self.rules_ else 'ALWAYS'} {self.action_names_[self.default_action_]}"
                f"   # covers {self.default_coverage_:.1%}, agrees {self.default_confidence_:.1%}"
            )
        return "\n".join(lines)

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """Operations of the rules tried up to the deciding one, averaged over training states."""
        self._check_fitted()
        bounds_and_weights = sum(c.operations for r in self.rules_ for c in r.conditions)
        return Cost(
            parameters=int(bounds_and_weights + len(self.rules_) + 1), ops_per_decision=self.expected_operations_, bytes=len(canonical_json(self.to_dict()))
        )

    def _state(self) -> dict[str, Any]:
        return {
            "rules": [r.to_dict() for r in self.rules_],
            "default": {
                "action": self.default_action_,
                "proba": list(self.default_proba_),
                "coverage": self.default_coverage_,
                "confidence": self.default_confidence_,
            },
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
            "expected_operations": self.expected_operations_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.rules_ = [Rule.from_dict(r) for r in state["rules"]]
        default = state["default"]
        self.default_action_, self.default_proba_ = int(default["action"]), tuple(default["proba"])
        self.default_coverage_, self.default_confidence_ = default["coverage"], default["confidence"]
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])
        self.expected_operations_ = float(state["expected_operations"])

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action index."""
        self._check_fitted()
        head = f'"""Rule-list student {self.content_hash} (agent-distill): decide(state) -> action index.\n\n'
        return head + self.to_text().replace('"""', "'''") + '\n"""\n\n\n' + self.python_function("decide")

    def python_function(self, name: str, *, match: bool = False) -> str:
        """``def name(state)`` returning the action (or, with ``match``, the rule index or -1)."""
        lines = [f"def {name}(state):"]
        for i, rule in enumerate(self.rules_):
            test = " and ".join(condition_source(c, "python") for c in rule.conditions) or "True"
            lines += [f"    if {test}:", f"        return {i if match else rule.action}"]
        return "\n".join([*lines, f"    return {-1 if match else self.default_action_}"]) + "\n"

    def c_source(self) -> str:
        """A C99 header with ``static inline int decide(const double *state)``."""
        self._check_fitted()
        return (
            f"/* Rule-list student {self.content_hash} (agent-distill): decide(state) -> action index.\n"
            "   Oblique sums are exact unless compiled with floating-point contraction (-ffp-contract=fast). */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n" + self._c_function("decide") + "\n#endif\n"
        )

    def _c_function(self, name: str, *, match: bool = False) -> str:
        """``static inline int name(const double *state)``: the action, or with ``match`` the rule index or -1."""
        lines = [f"static inline int {name}(const double *state) {{"]
        for i, rule in enumerate(self.rules_):
            test = " && ".join(condition_source(c, "c") for c in rule.conditions) or "1"
            lines.append(f"    if ({test}) return {i if match else rule.action};")
        return "\n".join([*lines, f"    return {-1 if match else self.default_action_};", "}"]) + "\n"


# -- helpers (shared with the continuous rule list, hybrid.students.linear_rules) ---------------
def term_text(c: Condition, feature_names: Sequence[str]) -> str:
    """The quantity a condition tests, as text: ``pole_angle`` or ``0.5·x - 1·v``."""
    if not c.oblique:
        return feature_names[c.features[0]]
    return " + ".join(f"{w:.4g}·{feature_names[f]}" for f, w in zip(c.features, c.weights)).replace("+ -", "- ")


def oblique_directions(X: np.ndarray, labels: np.ndarray, w: np.ndarray | None) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Sparse linear directions separating the teacher's actions: one per action against the
    rest (when there are more than two) and one per pair of actions, each over ≤3 features."""
    classes = np.unique(labels)
    if classes.size < 2 or X.shape[1] < 2:
        return []
    scale = X.std(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    Xs = (X - X.mean(axis=0)) / scale
    everyone = np.ones(len(labels), dtype=bool)
    problems = [(everyone, labels == c) for c in classes] if classes.size > 2 else []
    problems += [((labels == a) | (labels == b), labels == b) for a, b in combinations(classes, 2)]
    out = []
    for rows, target in problems:
        direction = _sparse_direction(Xs[rows], target[rows], None if w is None else w[rows], scale)
        if direction is not None and direction not in out:
            out.append(direction)
    return out


def _sparse_direction(Xs: np.ndarray, y: np.ndarray, w: np.ndarray | None, scale: np.ndarray) -> tuple | None:
    """The ≤3 standardised features a logistic regression weighs most, reweighted by a logistic
    regression on those alone, in raw units, largest weight ±1, rounded to 4 significant digits."""
    from sklearn.linear_model import LogisticRegression

    full = LogisticRegression(max_iter=1000).fit(Xs, y, sample_weight=w)
    feats = np.sort(np.argsort(-np.abs(full.coef_[0]), kind="stable")[:MAX_OBLIQUE_FEATURES])
    raw = LogisticRegression(max_iter=1000).fit(Xs[:, feats], y, sample_weight=w).coef_[0] / scale[feats]
    if not np.any(raw):
        return None
    return tuple(int(f) for f in feats), tuple(float(f"{v:.4g}") for v in raw / np.abs(raw).max())


def condition_source(c: Condition, language: str) -> str:
    """A condition as Python or C source: the same operations in the same order as ``value``."""
    terms = [f"state[{f}]" for f in c.features]
    z = " + ".join(f"{w!r} * {t}" for w, t in zip(c.weights, terms)) if c.oblique else terms[0]
    if c.lower is not None and c.upper is not None:
        return f"{c.lower!r} < {z} <= {c.upper!r}" if language == "python" else f"({z} > {c.lower!r} && {z} <= {c.upper!r})"
    return f"{z} > {c.lower!r}" if c.lower is not None else f"{z} <= {c.upper!r}"
