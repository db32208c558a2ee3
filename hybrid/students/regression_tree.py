"""RegressionTreeStudent: a CART regression tree on the teacher's continuous actions.

scikit-learn grows the tree on the actions scaled to ``[0, 1]`` per dimension (so every action
dimension counts alike in the squared-error splits), with ``sample_weight`` passed through.
Each leaf then holds either the weighted mean action of its states (``leaf_model="constant"``,
the behaviour-cloned tree of VIPER-style baselines) or a weighted ridge fit of the action on the
state (``"linear"``, a model tree whose leaves read as local linear controllers). Prediction,
storage, readable rules and exports come from ``hybrid.students._regressor.LeafTree``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import register
from hybrid.students._regressor import LEAF, LeafTree


@register
class RegressionTreeStudent(LeafTree):
    """A regression tree with constant or linear leaves, for continuous actions.

    Parameters
    ----------
    max_depth, max_leaf_nodes, min_samples_leaf: passed to scikit-learn's tree.
    leaf_model: ``"constant"`` (mean action) or ``"linear"`` (ridge fit of the action on the state).
    ridge: penalty of the linear leaves, on standardised features.
    random_state: seed of scikit-learn's feature permutation (ties between equal splits).
    """

    family = "regression_tree"
    searched_by_default = False  # continuous actions: AutoDistill searches it for continuous datasets
    search_order = 10
    colour = "#1b9e77"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first."""
        return [{"max_depth": d} for d in (2, 3, 4, 5, 6, 8, 10)] + [{"max_depth": None, "max_leaf_nodes": n, "leaf_model": "linear"} for n in (4, 8, 16, 32)]

    def __init__(
        self,
        max_depth: int | None = 8,
        max_leaf_nodes: int | None = None,
        min_samples_leaf: int = 5,
        leaf_model: str = "constant",
        ridge: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.leaf_model = leaf_model
        self.ridge = ridge
        self.random_state = random_state

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Grow the tree on the actions scaled to ``[0, 1]``, then fit each leaf's action."""
        from sklearn.tree import DecisionTreeRegressor

        scaled = (A - self.action_low_) / (self.action_high_ - self.action_low_)
        try:
            sk = DecisionTreeRegressor(
                max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state
            )
            sk.fit(X, scaled, sample_weight=w)
        except ValueError as e:  # scikit-learn's own parameter validation
            raise ParameterError(f"RegressionTreeStudent hyperparameters rejected by scikit-learn: {e}") from None
        t = sk.tree_
        leaf = t.children_left == -1
        n_nodes, m, d = t.node_count, A.shape[1], X.shape[1]
        intercept, coef = np.zeros((n_nodes, m)), np.zeros((n_nodes, m, d))
        where = sk.apply(X)
        X64 = X.astype(np.float64)
        for node in np.flatnonzero(leaf):
            rows = where == node
            intercept[node], coef[node] = self._leaf_action(X64[rows], A[rows], w[rows])
        self._set_tree(
            np.where(leaf, LEAF, t.feature),
            np.where(leaf, 0.0, t.threshold),
            np.where(leaf, LEAF, t.children_left),
            np.where(leaf, LEAF, t.children_right),
            intercept,
            coef,
            t.weighted_n_node_samples,
        )

    def _state(self) -> dict[str, Any]:
        return self._tree_state()

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_tree_state(state)
