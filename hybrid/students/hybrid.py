"""Hybrids for both kinds of action: readable rules decide where they are trustworthy, a small
MLP decides the rest. ``HybridStudent`` (discrete actions) builds on ``RuleListStudent`` and
``MLPStudent``; ``HybridRegressorStudent`` (continuous actions) on ``LinearRuleListStudent`` and
``MLPRegressorStudent``. Both keep the rules (``rules_``), the fallback (``mlp_``, None when
nothing is left to it), the share of states the rules decide (``coverage_``) and export the
rules with the fallback called where they abstain; they differ in how a rule earns its place.

HybridStudent. Fit: split off a calibration set (``calibration_fraction`` of the states, seeded); extract an
ordered rule list from the rest; measure each rule's confidence on the HELD-OUT calibration
states where it holds, against the teacher's own probabilities: the share of those states where
the rule's action is the teacher's most probable one (what fidelity measures), shrunk towards 0
for rules seen on few states (``agreements / (n + 1)``: a rule must hold on ≥ 19 held-out states
to reach 0.95). Training purity is not used: a pure training leaf can sit where the teacher is
nearly indifferent and its argmax flips from state to state (issue 3 measured such leaves
agreeing with the teacher on only ~72% of held-out LunarLander states). The teacher's mean
probability was not used either: a stochastic PPO teacher rarely gives any action ≥ 0.9 (the
CartPole one has a median top probability of 0.79), so almost no rule would ever decide.

Rules whose confidence is ≥ ``tau`` are enabled, and only they run: the first enabled rule that
holds decides (rules come from disjoint tree leaves, so at most one holds). A search tree over
the enabled rules' own bounds (``hybrid.students._router``) finds that rule exactly in about
``rule_depth`` comparisons, instead of trying rule after rule (3–6× fewer operations). Every
other state goes to the fallback:

- ``fallback="mlp"``: an MLPStudent trained on all states with the rule-decided ones
  down-weighted by ``covered_weight``, so its capacity goes where the rules abstain;
- ``fallback="teacher"``: a cascade — the teacher itself decides the rest. The artifact records
  the teacher's identity (content hash, not weights); pass the teacher to ``fit(...,
  teacher=)`` or ``set_teacher()`` after loading.

Confidences do not depend on ``tau``, so raising it only shrinks the set of enabled rules and
coverage falls (weakly). Cost: the router's operations (a comparison per node passed, plus the
multiply-adds of an oblique condition there), plus (1 − coverage) × the fallback's operations.

HybridRegressorStudent. Fit: a ``LinearRuleListStudent`` is grown on all states; a rule is kept
(answers itself) when its linear action is within ``tolerance`` of each dimension's range of the
teacher's action on at least ``tau`` of its training states (weighted). States of the other rules
go to a small ``MLPRegressorStudent`` trained on them alone. Cost: comparisons on the path plus,
per state, the kept rule's multiply-adds or the MLP's, averaged over the training states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from hybrid.errors import DataError, NotFittedError, ParameterError
from hybrid.spaces import ActionSpace
from hybrid.students._base import BoxStudent, Cost, Student, check_states, register
from hybrid.students._router import build_router
from hybrid.students._split_tree import C_CLIP, LEAF
from hybrid.students.mlp import MLPRegressorStudent, MLPStudent
from hybrid.students.rules import LinearRuleListStudent, RuleListStudent
from provenance.hashing import canonical_json

_FALLBACKS = ("mlp", "teacher")


@register
class HybridStudent(Student):
    """Rules with held-out confidence ≥ ``tau`` decide; an MLP (or the teacher) decides the rest.

    Parameters
    ----------
    tau: confidence a rule needs on held-out states to decide.
    rule_depth, max_rules: depth of the tree the rules come from, and how many rules to keep.
    oblique: let rule conditions test a weighted sum of up to three features (RuleListStudent).
    hidden_sizes, activation, temperature, alpha, epochs: the fallback MLP (see MLPStudent).
    covered_weight: weight, relative to 1 for the rest, of rule-decided states in the MLP's loss.
    calibration_fraction: share of states held out to measure rule confidence.
    fallback: ``"mlp"`` or ``"teacher"`` (a cascade to the teacher itself).
    random_state: seed of the calibration split, the rules and the MLP.
    """

    family = "hybrid"
    expensive = True
    fit_imports = ("torch",)
    searched_by_default = True
    search_order = 30
    colour = "#e7298a"
    mlp_: MLPStudent | None  # fitted: the MLP for uncovered states (None when the teacher answers them)
    teacher_: Any  # the teacher a cascade falls back to, attached by set_teacher (never saved)
    teacher_record_: Any  # fitted: a cascade's teacher's identity and cost (a dict), None with an MLP

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Oblique rule trees reach ≥ 60% coverage at τ 0.7–0.8 where axis-aligned ones stay ≤ 20%.
        Fallbacks from 2 hidden units up: once the rules decide most states, the router's
        comparisons cost as much as a 4-unit fallback on the rest, so a 2- or 3-unit one is what
        makes a hybrid cheaper still (LunarLander: 8 inputs, 4 actions, [4] costs 48
        multiply-adds, [3] 36, [2] 24)."""
        rule_settings = ((3, False, 0.97), (6, False, 0.9), (6, True, 0.9), (6, True, 0.8), (8, True, 0.7))
        return [
            {"tau": tau, "rule_depth": depth, "oblique": oblique, "hidden_sizes": list(h), "epochs": epochs}
            for h in ((2,), (3,), (4,), (8,), (32,))
            for depth, oblique, tau in rule_settings
        ]

    def __init__(
        self,
        tau: float = 0.95,
        rule_depth: int = 6,
        max_rules: int | None = None,
        oblique: bool = False,
        hidden_sizes: Sequence[int] = (8,),
        activation: str = "relu",
        temperature: float = 2.0,
        alpha: float = 0.7,
        epochs: int = 60,
        covered_weight: float = 0.1,
        calibration_fraction: float = 0.25,
        fallback: str = "mlp",
        random_state: int = 0,
    ) -> None:
        self.tau = tau
        self.rule_depth = rule_depth
        self.max_rules = max_rules
        self.oblique = oblique
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.temperature = temperature
        self.alpha = alpha
        self.epochs = epochs
        self.covered_weight = covered_weight
        self.calibration_fraction = calibration_fraction
        self.fallback = fallback
        self.random_state = random_state

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any = None,
        *,
        teacher: Any = None,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        action_space: ActionSpace | None = None,
        action_low: Any = None,
        action_high: Any = None,
    ) -> HybridStudent:
        """Fit rules, calibrate them on held-out states, then fit the fallback on what they leave.

        ``teacher`` (with ``predict_proba`` and ``ops_per_decision``) is required when
        ``fallback="teacher"``; the names only label the rules in ``to_text``.
        """
        X, P, w = self._checked(X, Y, sample_weight, feature_names, action_names, action_space, action_low, action_high)
        if self.fallback == "teacher" and teacher is None:
            raise ParameterError('fallback="teacher" needs the teacher: call fit(X, P, teacher=teacher).')
        n_cal = int(round(self.calibration_fraction * X.shape[0]))
        if n_cal < 1 or n_cal >= X.shape[0]:
            raise ParameterError(
                f"calibration_fraction={self.calibration_fraction} of {X.shape[0]} states leaves no "
                "calibration or no training states; pass more states or a fraction in (0, 1)."
            )
        order = np.random.default_rng(self.random_state).permutation(X.shape[0])
        cal, fit = np.sort(order[:n_cal]), np.sort(order[n_cal:])

        self.rules_ = RuleListStudent(max_depth=self.rule_depth, max_rules=self.max_rules, oblique=self.oblique, random_state=self.random_state).fit(
            X[fit], P[fit], None if w is None else w[fit], feature_names=self.feature_names_, action_names=self.action_names_
        )
        self.rule_confidence_, self.rule_calibration_states_ = _held_out_confidence(self.rules_, X[cal], P[cal])
        self._enable()
        rule, checks = self._route(X)
        decided = rule >= 0
        self.coverage_ = float(decided.mean())
        self.rule_checks_ = float(checks.mean())
        if self.fallback == "mlp":
            emphasis = np.where(decided, self.covered_weight, 1.0) * (1.0 if w is None else w)
            self.mlp_ = MLPStudent(
                hidden_sizes=self.hidden_sizes,
                activation=self.activation,
                temperature=self.temperature,
                alpha=self.alpha,
                epochs=self.epochs,
                random_state=self.random_state,
            ).fit(X, P, sample_weight=emphasis if emphasis.sum() > 0 else None)
            self.teacher_, self.teacher_record_ = None, None
        else:
            self.mlp_, self.teacher_record_ = None, None  # a refit may take another teacher
            self.set_teacher(teacher)
        return self

    def _check_params(self) -> None:
        if self.fallback not in _FALLBACKS:
            raise ParameterError(f"fallback must be one of {_FALLBACKS}; got {self.fallback!r}.")
        if not 0.0 <= self.tau <= 1.0:
            raise ParameterError(f"tau must lie in [0, 1]; got {self.tau!r}.")
        if self.covered_weight < 0:
            raise ParameterError(f"covered_weight must be ≥ 0; got {self.covered_weight!r}.")

    def set_teacher(self, teacher: Any) -> HybridStudent:
        """Attach the teacher a cascade falls back to (after ``load``, the same teacher it was fitted with)."""
        if not callable(getattr(teacher, "predict_proba", None)):
            raise DataError("the teacher must have predict_proba(X) -> [n, k]; adapt it with hybrid.as_teacher().")
        record = _teacher_record(teacher)
        known = getattr(self, "teacher_record_", None)
        if known and known["content_hash"] and known["content_hash"] != record["content_hash"]:
            raise DataError(f"this cascade was fitted with teacher {known['content_hash']} but got {record['content_hash']}; attach the same teacher or refit.")
        self.teacher_, self.teacher_record_ = teacher, record
        return self

    # -- routing ----------------------------------------------------------------------------
    def _enable(self) -> None:
        """Fix the deciding rules (held-out confidence ≥ tau) and build their router."""
        self.enabled_rules_ = self.rule_confidence_ >= self.tau
        self._deciding = [rule for rule, on in zip(self.rules_.rules_, self.enabled_rules_) if on]
        self._router = build_router(self._deciding)
        self._proba = np.array([r.proba for r in self._deciding], dtype=np.float64).reshape(-1, self.n_actions_)

    def _route(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per state: index of the deciding rule among the enabled ones (-1: the fallback), and
        the operations spent finding it."""
        return self._router.route(X)

    def _decided(self, X: np.ndarray) -> np.ndarray:
        """True where an enabled rule holds."""
        return self._route(X)[0] >= 0

    # -- inference ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """The deciding rule's probabilities where a confident rule matches, the fallback's elsewhere."""
        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_)
        rule = self._route(X)[0]
        decided = rule >= 0
        out = np.empty((X.shape[0], self.n_actions_))
        out[decided] = self._proba[rule[decided]]
        if (~decided).any():
            out[~decided] = self._fallback_proba(X[~decided])
        return out

    def _fallback_proba(self, X: np.ndarray) -> np.ndarray:
        if self.mlp_ is not None:
            return self.mlp_.predict_proba(X)
        if getattr(self, "teacher_", None) is None:
            raise NotFittedError(
                "this cascade sends uncovered states to its teacher, which is not attached; call "
                "set_teacher(teacher) with the teacher recorded in teacher_record_."
            )
        return np.asarray(self.teacher_.predict_proba(X), dtype=np.float64)

    @property
    def teacher_share_(self) -> float:
        """Share of decisions the cascade leaves to the teacher (0 with an MLP fallback)."""
        self._check_fitted()
        return 1.0 - self.coverage_ if self.mlp_ is None else 0.0

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """Expected operations: rule checks (the router's path) + (1 − coverage) × the fallback's.

        Parameters count the rules and the MLP; a cascade's teacher weights are not part of
        the artifact, but its operations count at the teacher's share of decisions.
        """
        self._check_fitted()
        rules = self.rules_.cost()
        if self.mlp_ is not None:
            mlp = self.mlp_.cost()
            fallback_ops, parameters = mlp.ops_per_decision, rules.parameters + mlp.parameters
        else:
            fallback_ops, parameters = self.teacher_record_["ops_per_decision"], rules.parameters
        return Cost(
            parameters=int(parameters),
            ops_per_decision=float(self.rule_checks_ + (1.0 - self.coverage_) * fallback_ops),
            bytes=len(canonical_json(self.to_dict())),
        )

    def _state(self) -> dict[str, Any]:
        return {
            "rules": self.rules_.to_dict(),
            "rule_confidence": [float(c) for c in self.rule_confidence_],
            "rule_calibration_states": [int(n) for n in self.rule_calibration_states_],
            "coverage": self.coverage_,
            "rule_checks": self.rule_checks_,
            "mlp": None if self.mlp_ is None else self.mlp_.to_dict(),
            "teacher": self.teacher_record_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.rules_ = RuleListStudent.from_dict(state["rules"])
        self.feature_names_, self.action_names_ = self.rules_.feature_names_, self.rules_.action_names_
        self.rule_confidence_ = np.asarray(state["rule_confidence"], dtype=np.float64)
        self.rule_calibration_states_ = np.asarray(state["rule_calibration_states"], dtype=np.int64)
        self.coverage_ = state["coverage"]
        self.rule_checks_ = state["rule_checks"]
        self._enable()
        self.mlp_ = None if state["mlp"] is None else MLPStudent.from_dict(state["mlp"])
        self.teacher_, self.teacher_record_ = None, state["teacher"]

    # -- text and exports -----------------------------------------------------------------------
    def to_text(self) -> str:
        """The deciding rules in order, each with its held-out confidence, then where the rest go."""
        self._check_fitted()
        lines = []
        for rule, conf, n, on in zip(self.rules_.rules_, self.rule_confidence_, self.rule_calibration_states_, self.enabled_rules_):
            if on:
                lines.append(f"{self.rules_.rule_text(rule)}   # held-out confidence {conf:.1%} on {n} states")
        units = [int(h) for h in self.hidden_sizes]
        if self.mlp_ is None:
            rest = f"the teacher {self.teacher_record_['identity']} ({self.teacher_record_['content_hash']})"
        elif len(units) == 1:
            rest = f"an MLP with {units[0]} hidden units"
        else:
            rest = f"an MLP with hidden layers of {'/'.join(map(str, units))} units" if units else "a softmax regression"
        lines.append(f"OTHERWISE ({1 - self.coverage_:.1%} of states) → {rest}")
        return "\n".join(lines)

    def python_source(self) -> str:
        """A standard-library-only module: the rule chain, then the MLP, in ``decide(state)``.

        A cascade's module has no teacher: its ``decide`` returns -1 where the teacher must decide.
        """
        self._check_fitted()
        actions = tuple(rule.action for rule in self._deciding)
        fallback = "_mlp(state)" if self.mlp_ is not None else "-1  # the teacher decides"
        doc = self.to_text().replace('"""', "'''")
        return "\n".join(
            [
                f'"""Hybrid student {self.content_hash} (agent-distill): decide(state) -> action index.\n\n{doc}\n"""',
                "",
                "",
                "def _rule(state):",
                *self._router.source("python", "    "),
                "",
                "" if self.mlp_ is None else "\n" + self.mlp_.python_function("_mlp"),
                "",
                f"_ACTIONS = {actions!r}",
                "",
                "",
                "def decide(state):",
                "    state = [float(v) for v in state]",
                "    i = _rule(state)",
                "    if i >= 0:",
                "        return _ACTIONS[i]",
                f"    return {fallback}",
                "",
            ]
        )

    def c_source(self) -> str:
        """A C99 header with ``static int decide(const double *state)``: rules, then the MLP
        (a cascade's header returns -1 where the teacher must decide)."""
        self._check_fitted()
        actions = ", ".join(str(rule.action) for rule in self._deciding) or "0"
        fallback = "decide_mlp(state)" if self.mlp_ is not None else "-1"
        return "\n".join(
            [
                f"/* Hybrid student {self.content_hash} (agent-distill): decide(state) -> action index. */",
                "#ifndef AGENT_DISTILL_DECIDE_H",
                "#define AGENT_DISTILL_DECIDE_H",
                "#include <math.h>",
                "",
                "static int decide_rule(const double *state) {",
                *self._router.source("c", "    "),
                "}",
                "",
                "" if self.mlp_ is None else self.mlp_.c_function("decide_mlp"),
                f"static const int decide_actions[] = {{{actions}}};",
                "",
                "static int decide(const double *state) {",
                "    int i = decide_rule(state);",
                "    if (i >= 0) return decide_actions[i];",
                f"    return {fallback};",
                "}",
                "",
                "#endif",
                "",
            ]
        )


@register
class HybridRegressorStudent(BoxStudent):
    """Rules with linear actions for the states they imitate within tolerance; an MLP for the rest.

    Parameters
    ----------
    max_rules, min_samples_leaf: of the rule list (see ``LinearRuleListStudent``).
    tolerance: share of each action dimension's range within which a rule's action counts as the teacher's.
    tau: share of a rule's training states that must be within tolerance for the rule to be kept.
    hidden_sizes, epochs, random_state: of the MLP (see ``MLPRegressorStudent``).
    """

    family = "hybrid_regressor"
    expensive = True
    fit_imports = ("torch",)
    searched_by_default = False  # continuous actions: AutoDistill searches it for continuous datasets
    search_order = 13
    colour = "#e7298a"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first."""
        return [
            {"max_rules": r, "tau": t, "hidden_sizes": list(h), "epochs": max(epochs, 100)}
            for h in ((8,), (16,))
            for r, t in ((8, 0.9), (16, 0.9), (16, 0.8), (32, 0.8))
        ]

    def __init__(
        self,
        max_rules: int = 16,
        min_samples_leaf: int = 20,
        tolerance: float = 0.05,
        tau: float = 0.9,
        hidden_sizes: Sequence[int] = (16,),
        epochs: int = 200,
        random_state: int = 0,
    ) -> None:
        self.max_rules = max_rules
        self.min_samples_leaf = min_samples_leaf
        self.tolerance = tolerance
        self.tau = tau
        self.hidden_sizes = hidden_sizes
        self.epochs = epochs
        self.random_state = random_state

    def _check_params(self) -> None:
        """Refuse hyperparameters the family cannot use."""
        if not (0 < self.tolerance and 0 < self.tau <= 1):
            raise ParameterError(f"tolerance must be > 0 and tau in (0, 1]; got {self.tolerance} and {self.tau}.")

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Grow the rules, keep those within tolerance, train the MLP on the rest."""
        bounds: dict[str, Any] = dict(feature_names=self.feature_names_, action_space=self.action_space)
        self.rules_ = LinearRuleListStudent(max_rules=self.max_rules, min_samples_leaf=self.min_samples_leaf).fit(X, A, w, **bounds)
        leaves = self.rules_.apply(X)
        span = self.action_high_ - self.action_low_
        close = (np.abs(self.rules_.predict(X) - A) <= self.tolerance * span).all(axis=1)
        n_nodes = len(self.rules_.feature_)
        share = np.zeros(n_nodes)
        for node in np.flatnonzero(self.rules_.feature_ == LEAF):
            rows = leaves == node
            share[node] = np.average(close[rows], weights=w[rows]) if w[rows].sum() > 0 else 1.0
        self.enabled_ = (self.rules_.feature_ == LEAF) & (share >= self.tau)
        rest = ~self.enabled_[leaves]
        self.coverage_ = float(w[~rest].sum() / w.sum())
        self.mlp_: MLPRegressorStudent | None = None
        if rest.any():
            mlp = MLPRegressorStudent(hidden_sizes=self.hidden_sizes, epochs=self.epochs, random_state=self.random_state)
            rows = rest if rest.sum() >= 50 else np.ones(len(X), dtype=bool)  # too few states alone: learn from all
            self.mlp_ = clone(mlp).fit(X[rows], A[rows], w[rows], **bounds)
        mlp_ops = 0.0 if self.mlp_ is None else self.mlp_.cost().ops_per_decision
        leaf_ops = (self.rules_.coef_[leaves] != 0).sum(axis=(1, 2))
        per_state = np.where(rest, mlp_ops, leaf_ops)
        self.expected_ops_ = float(self.rules_.expected_comparisons_ + np.average(per_state, weights=w))

    def predict(self, X: Any) -> np.ndarray:
        """The kept rule's linear action, else the MLP's: float64 ``[n, m]`` within the bounds."""
        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_)
        out = self.rules_.predict(X)
        rest = ~self.enabled_[self.rules_.apply(X)]
        if rest.any() and self.mlp_ is not None:
            out[rest] = self.mlp_.predict(X[rest])
        return out

    def cost(self) -> Cost:
        """Expected comparisons plus the answering part's multiply-adds; parameters of both parts."""
        self._check_fitted()
        params = self.rules_.cost().parameters + (0 if self.mlp_ is None else self.mlp_.cost().parameters)
        return Cost(parameters=int(params), ops_per_decision=self.expected_ops_, bytes=len(canonical_json(self.to_dict())))

    def rules(self, precision: int = 3) -> list[str]:
        """The kept rules as text (see ``LeafTree.rules``); the others read ``THEN ask the MLP``."""
        texts = self.rules_.rules(precision)
        return [t if self.enabled_[n] else t.split(" THEN ")[0] + " THEN ask the MLP" for t, n in zip(texts, self._leaf_order())]

    def _leaf_order(self) -> list[int]:
        """Leaf nodes in the order ``rules()`` prints them (depth first, left before right)."""
        out, stack = [], [0]
        while stack:
            node = stack.pop()
            if self.rules_.feature_[node] == LEAF:
                out.append(node)
            else:
                stack += [int(self.rules_.right_[node]), int(self.rules_.left_[node])]
        return out

    def _state(self) -> dict[str, Any]:
        return {
            **self._shared_state(),
            "rules": self.rules_.to_dict(),
            "enabled": self.enabled_.tolist(),
            "mlp": None if self.mlp_ is None else self.mlp_.to_dict(),
            "coverage": self.coverage_,
            "expected_ops": self.expected_ops_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_shared_state(state)
        self.rules_ = Student.from_dict(state["rules"])
        self.enabled_ = np.asarray(state["enabled"], dtype=bool)
        self.mlp_ = None if state["mlp"] is None else Student.from_dict(state["mlp"])
        self.coverage_, self.expected_ops_ = float(state["coverage"]), float(state["expected_ops"])

    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action tuple."""
        self._check_fitted()
        head = f'"""hybrid_regressor student {self.content_hash} (agent-distill): decide(state) -> action tuple."""\n\n'
        mlp = "" if self.mlp_ is None else self.mlp_.python_function("_mlp") + "\n\n"
        rule = self.rules_.leaf_source("python")
        leaf = lambda node, indent: rule(node, indent) if self.enabled_[node] else [f"{indent}return _mlp(state)"]  # noqa: E731
        return head + mlp + "\n".join(["def decide(state):", *self.rules_.branch_source("python", leaf)]) + "\n"

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        mlp = "" if self.mlp_ is None else self.mlp_.c_function("agent_distill_mlp") + "\n"
        rule = self.rules_.leaf_source("c")
        leaf = lambda node, indent: rule(node, indent) if self.enabled_[node] else [f"{indent}agent_distill_mlp(state, action);", f"{indent}return;"]  # noqa: E731
        return (
            f"/* hybrid_regressor student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) within their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n"
            + C_CLIP
            + mlp
            + "static inline void decide(const double *state, double *action) {\n"
            + "\n".join(self.rules_.branch_source("c", leaf))
            + "\n}\n\n#endif\n"
        )


def _held_out_confidence(rules: RuleListStudent, X: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per rule, over the held-out states where it holds: agreements with the teacher's argmax
    / (n + 1), and n. Measured whether or not an earlier rule also holds, so a rule's confidence
    does not depend on which other rules are enabled."""
    labels = P.argmax(axis=1)
    counts, agree = np.zeros(len(rules.rules_), dtype=np.int64), np.zeros(len(rules.rules_))
    for i, rule in enumerate(rules.rules_):
        holds = rule.holds(X)
        counts[i], agree[i] = holds.sum(), np.sum(labels[holds] == rule.action)
    return agree / (counts + 1.0), counts


def _teacher_record(teacher: Any) -> dict[str, Any]:
    """What a cascade artifact keeps of its teacher: identity and per-decision cost, never weights."""
    ops = getattr(teacher, "ops_per_decision", None)
    if ops is None:
        raise DataError(
            "the cascade's teacher must declare ops_per_decision (multiply-adds per decision) so the cascade's cost can count it; set teacher.ops_per_decision."
        )
    return {
        "content_hash": getattr(teacher, "content_hash", None),
        "identity": str(getattr(teacher, "identity", None) or getattr(teacher, "env_id", None) or type(teacher).__qualname__),
        "ops_per_decision": float(ops),
    }
