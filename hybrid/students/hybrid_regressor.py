"""HybridRegressorStudent: linear rules where the teacher is locally linear, a tiny MLP elsewhere.

Fit: a ``LinearRuleListStudent`` is grown on all states; a rule is kept (answers itself) when
its linear action is within ``tolerance`` of each dimension's range of the teacher's action on
at least ``tau`` of its training states (weighted). States of the other rules go to a small
``MLPRegressorStudent`` trained on them alone; when every rule is kept there is no MLP. The
share of training weight answered by rules is ``coverage_``.

Cost: comparisons on the path plus, per state, the kept rule's multiply-adds or the MLP's,
averaged over the training states. Exports: the rule tree with the MLP function called at the
leaves it does not keep, so Python and C compute exactly what ``predict`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, Student, check_states, register
from hybrid.students._regressor import LEAF, RegressorStudent
from hybrid.students.linear_rules import LinearRuleListStudent
from hybrid.students.mlp_regressor import MLPRegressorStudent
from provenance.hashing import canonical_json


@register
class HybridRegressorStudent(RegressorStudent):
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
        bounds: dict[str, Any] = dict(
            action_low=self.action_low_, action_high=self.action_high_, feature_names=self.feature_names_, action_names=self.action_names_
        )
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
        """A module (``math`` only) whose ``decide(state)`` returns the action tuple."""
        self._check_fitted()
        head = f'"""hybrid_regressor student {self.content_hash} (agent-distill): decide(state) -> action tuple."""\n\nimport math\n\n'
        mlp = "" if self.mlp_ is None else self.mlp_.python_function("_mlp") + "\n\n"
        ask = lambda node, indent: None if self.enabled_[node] else [f"{indent}return _mlp(state)"]  # noqa: E731
        return head + mlp + "\n".join(["def decide(state):", *self.rules_._py_node(0, "    ", ask)]) + "\n"

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        mlp = "" if self.mlp_ is None else self.mlp_._c_function("agent_distill_mlp") + "\n"
        ask = lambda node, indent: None if self.enabled_[node] else [f"{indent}agent_distill_mlp(state, action);", f"{indent}return;"]  # noqa: E731
        body = self.rules_._c_node(0, "    ", ask)
        return (
            f"/* hybrid_regressor student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) within their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n"
            "static inline double agent_distill_clip(double v, double lo, double hi) {\n"
            "    return v < lo ? lo : (v > hi ? hi : v);\n}\n\n"
            + mlp
            + "static inline void decide(const double *state, double *action) {\n"
            + "\n".join(body)
            + "\n}\n\n#endif\n"
        )
