"""Rule lists a person can audit, for both kinds of action: ``RuleListStudent`` (an ordered
IF–THEN list on the teacher's probabilities) and ``LinearRuleListStudent`` (mutually exclusive
rules whose actions are linear in the state, for continuous actions). Both test the same
``Condition``s (``hybrid.students._conditions``: axis-aligned or oblique, computed in double left to
right the same in numpy, Python and C) and find oblique directions with the same
``oblique_directions``; they differ in how the rules are grown.

RuleListStudent. Fit: grow a TreeStudent on the teacher's probabilities (optionally on the states plus a few
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

LinearRuleListStudent: a model tree grown for its leaves, in the spirit of
Quinlan's M5: every candidate split is scored by the squared error left after fitting a *linear*
controller on each side, not a constant, so a few rules suffice where the teacher acts like a
gain schedule. Growth is best-first (the leaf whose best split removes the most weighted error is
split next) until ``max_rules`` leaves or no split helps; split search is exact over up to
``n_thresholds`` quantile cut points per column, from prefix sums of the weighted normal equations.
Actions are scaled to ``[0, 1]`` per dimension while growing. With ``oblique=True`` each action
dimension is cut at its tertiles into low / middle / high, and the directions separating those
become extra columns the growth may split on. The result is a ``LeafTree``
(``hybrid.students._split_tree``) and prints as a rule list (``rules()``): ``IF <intervals> THEN
action = b + w·state``, one rule per leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, Student, check_states, register
from hybrid.students._boxes import drop_covered_bounds, leaf_boxes, merge_boxes
from hybrid.students._conditions import MAX_OBLIQUE_FEATURES, Condition, condition_source, oblique_directions, term_text
from hybrid.students._split_tree import LEAF, LeafTree
from hybrid.students.tree import TreeStudent
from provenance.hashing import canonical_json

__all__ = ["MAX_OBLIQUE_FEATURES", "Condition", "LinearRuleListStudent", "Rule", "RuleListStudent", "condition_source", "oblique_directions", "term_text"]


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
    def _check_params(self) -> None:
        if self.max_rules is not None and self.max_rules < 0:
            raise ParameterError(f"max_rules must be ≥ 0 or None; got {self.max_rules!r}.")

    def _fit(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """Extract the rule list from a tree on the probabilities (see the module docstring)."""
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

    def rules(self) -> list[str]:
        """The list as lines, ``IF … THEN action`` in order, then the default (``ELSE action``)."""
        self._check_fitted()
        lines = [self.rule_text(r) for r in self.rules_]
        if not (self.rules_ and not self.rules_[-1].conditions):
            lines.append(f"{'ELSE' if self.rules_ else 'ALWAYS'} {self.action_names_[self.default_action_]}")
        return lines

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
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n" + self.c_function("decide") + "\n#endif\n"
        )

    def c_function(self, name: str, *, match: bool = False) -> str:
        """``static inline int name(const double *state)``: the action, or with ``match`` the rule index or -1."""
        lines = [f"static inline int {name}(const double *state) {{"]
        for i, rule in enumerate(self.rules_):
            test = " && ".join(condition_source(c, "c") for c in rule.conditions) or "1"
            lines.append(f"    if ({test}) return {i if match else rule.action};")
        return "\n".join([*lines, f"    return {-1 if match else self.default_action_};", "}"]) + "\n"


@register
class LinearRuleListStudent(LeafTree):
    """A rule list with linear (or constant) actions, grown as a best-first model tree.

    Parameters
    ----------
    max_rules: most rules (leaves).
    min_samples_leaf: fewest training states a rule may cover.
    n_thresholds: cut points tried per feature and split (quantiles of the leaf's states).
    leaf_model: ``"linear"`` (the default) or ``"constant"`` actions.
    ridge: penalty of the linear fits, on standardised features.
    oblique: also let conditions test a weighted sum of up to three features.
    random_state: taken so that every family accepts a seed (AutoDistill passes one); growth
        draws no randomness, so it changes nothing.
    """

    family = "linear_rules"
    searched_by_default = False  # continuous actions: AutoDistill searches it for continuous datasets
    search_order = 12
    colour = "#d95f02"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first."""
        return [{"max_rules": n} for n in (2, 4, 8, 12, 16, 24, 32, 48)]

    def __init__(
        self,
        max_rules: int = 16,
        min_samples_leaf: int = 20,
        n_thresholds: int = 32,
        leaf_model: str = "linear",
        ridge: float = 1e-3,
        oblique: bool = False,
        random_state: int = 0,
    ) -> None:
        self.max_rules = max_rules
        self.min_samples_leaf = min_samples_leaf
        self.n_thresholds = n_thresholds
        self.leaf_model = leaf_model
        self.ridge = ridge
        self.oblique = oblique
        self.random_state = random_state

    def _check_params(self) -> None:
        """Refuse hyperparameters the family cannot use."""
        super()._check_params()
        if self.max_rules < 1 or self.min_samples_leaf < 1 or self.n_thresholds < 1:
            raise ParameterError("max_rules, min_samples_leaf and n_thresholds must be ≥ 1.")

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Grow the rules best-first on the states (and oblique projections), then fit each rule's action."""
        self.oblique_ = _action_directions(X, A, w) if self.oblique else []
        C = self._columns(X)  # what splits test: the states, then the oblique projections
        X64 = X.astype(np.float64)
        scale = X64.std(axis=0)
        Z = np.hstack([np.ones((len(X), 1)), (X64 - X64.mean(axis=0)) / np.where(scale > 1e-12, scale, 1.0)])
        if self.leaf_model == "constant":
            Z = Z[:, :1]
        Y = (A - self.action_low_) / (self.action_high_ - self.action_low_)
        # ridge on the slopes (not the intercept), scaled to the data's weight; 1e-9 keeps empty-weight sides solvable
        penalty = (self.ridge * max(w.sum(), 1e-12)) * np.diag([0.0] + [1.0] * (Z.shape[1] - 1)) + 1e-9 * np.eye(Z.shape[1])

        nodes: list[dict[str, Any]] = [{"rows": np.arange(len(X)), "split": None}]
        frontier = {0: self._best_split(C, Z, Y, w, nodes[0]["rows"], penalty)}
        while len(frontier) < self.max_rules:  # every leaf is in the frontier: its size is the rule count
            node, best = max(frontier.items(), key=lambda kv: kv[1][0])
            if best[0] <= 1e-12 * max(w.sum(), 1.0):
                break
            _, feature, threshold = best
            rows = nodes[node]["rows"]
            go_left = C[rows, feature] <= threshold
            nodes[node]["split"] = (feature, threshold, len(nodes), len(nodes) + 1)
            del frontier[node]
            for part in (rows[go_left], rows[~go_left]):
                frontier[len(nodes)] = self._best_split(C, Z, Y, w, part, penalty)
                nodes.append({"rows": part, "split": None})
        self._store(nodes, X64, A, w)

    def _best_split(self, C: np.ndarray, Z: np.ndarray, Y: np.ndarray, w: np.ndarray, rows: np.ndarray, penalty: np.ndarray) -> tuple[float, int, float]:
        """``(error removed, column, threshold)`` of the leaf's best split over the columns ``C``;
        gain 0 when none is allowed."""
        best = (0.0, -1, 0.0)
        n = len(rows)
        if n < 2 * self.min_samples_leaf:
            return best
        Zr, Yr, wr = Z[rows], Y[rows], w[rows]
        total = _sse(*_moments(Zr, Yr, wr), penalty)[None]
        for f in range(C.shape[1]):
            order = np.argsort(C[rows, f], kind="stable")
            x = C[rows, f][order]
            # a cut between positions k-1 and k: allowed where the value changes and both sides are big enough
            k = np.arange(self.min_samples_leaf, n - self.min_samples_leaf + 1)
            k = k[x[k - 1] < x[np.minimum(k, n - 1)]]
            if not len(k):
                continue
            if len(k) > self.n_thresholds:
                k = k[np.unique(np.linspace(0, len(k) - 1, self.n_thresholds).round().astype(int))]
            zz, zy, yy = _prefix_moments(Zr[order], Yr[order], wr[order])
            all_zz, all_zy, all_yy = zz[-1], zy[-1], yy[-1]
            left = _sse(zz[k - 1], zy[k - 1], yy[k - 1], penalty)
            right = _sse(all_zz - zz[k - 1], all_zy - zy[k - 1], all_yy - yy[k - 1], penalty)
            gain = total - left - right
            i = int(np.argmax(gain))
            if gain[i] > best[0]:
                threshold = (float(x[k[i] - 1]) + float(x[k[i]])) / 2.0  # midpoint, as scikit-learn (of float32 states on axis columns)
                best = (float(gain[i]), f, threshold)
        return best

    def _store(self, nodes: list[dict[str, Any]], X64: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Turn the grown nodes into ``LeafTree`` arrays, fitting each leaf's action."""
        n, m, d = len(nodes), A.shape[1], X64.shape[1]
        feature, threshold = np.full(n, LEAF), np.zeros(n)
        left, right = np.full(n, LEAF), np.full(n, LEAF)
        intercept, coef, samples = np.zeros((n, m)), np.zeros((n, m, d)), np.zeros(n)
        for i, node in enumerate(nodes):
            rows = node["rows"]
            samples[i] = w[rows].sum()
            if node["split"] is not None:
                feature[i], threshold[i], left[i], right[i] = node["split"]
            else:
                intercept[i], coef[i] = self._leaf_action(X64[rows], A[rows], w[rows])
        used = sorted({int(f) - d for f in feature if f >= d})  # keep only the projections a split tests
        renumber = {d + old: d + new for new, old in enumerate(used)}
        feature = np.array([renumber.get(int(f), f) for f in feature])
        self._set_tree(feature, threshold, left, right, intercept, coef, samples, [self.oblique_[i] for i in used])


def _action_directions(X: np.ndarray, A: np.ndarray, w: np.ndarray) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Oblique directions for continuous actions: each dimension's low / middle / high tertiles
    separated as the discrete rule list separates actions; duplicates dropped."""
    out: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    for a in A.T:
        labels = np.searchsorted(np.quantile(a, [1 / 3, 2 / 3]), a, side="right")
        out += [d for d in oblique_directions(X, labels, w) if d not in out]
    return out


def _moments(Z: np.ndarray, Y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted normal-equation sums ``Zᵀ W Z``, ``Zᵀ W Y`` and ``Σ w y²`` (per action dimension)."""
    Zw = Z * w[:, None]
    return Zw.T @ Z, Zw.T @ Y, (w[:, None] * Y**2).sum(axis=0)


def _prefix_moments(Z: np.ndarray, Y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running sums of ``_moments`` over the rows in order: entry ``i`` covers rows ``0..i``."""
    Zw = Z * w[:, None]
    zz = np.cumsum(Zw[:, :, None] * Z[:, None, :], axis=0)
    zy = np.cumsum(Zw[:, :, None] * Y[:, None, :], axis=0)
    return zz, zy, np.cumsum(w[:, None] * Y**2, axis=0)


def _sse(zz: np.ndarray, zy: np.ndarray, yy: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Weighted squared error of the ridge fit from its sums (batched over leading axes), summed
    over action dimensions: ``Σ yy − 2 βᵀ zy + βᵀ zz β`` with ``β = (zz + P)⁻¹ zy``."""
    beta = np.linalg.solve(zz + penalty, zy)
    fit = np.einsum("...im,...im->...", beta, zy)
    curv = np.einsum("...im,...ij,...jm->...", beta, zz, beta)
    return np.maximum(yy.sum(axis=-1) - 2.0 * fit + curv, 0.0)
