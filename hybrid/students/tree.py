"""Decision trees for both kinds of action: ``TreeStudent`` on the teacher's probabilities and
``RegressionTreeStudent`` on the teacher's continuous actions.

Both are grown by scikit-learn (``_sklearn_tree``; ``sample_weight`` passed through) and keep only
its arrays, as a ``SplitTree`` (``hybrid.students._split_tree``): the same splits, the same walk
from state to leaf, the same exactness rule (float32 states against double thresholds; exports
compare doubles with ``f32_split_bound``) and the same nested-``if`` exports. They differ in what a
leaf holds and how it is grown:

- ``TreeStudent`` (``_grow_probabilities``): a regression tree on P (``criterion="soft"``; leaves
  hold the mean teacher probabilities) or a classification tree on argmax P (``"hard"``; leaves
  hold class frequencies); it decides the leaf's most probable action.
- ``RegressionTreeStudent`` (``_grow_actions``): a regression tree on the actions scaled to
  ``[0, 1]`` per dimension (so every dimension counts alike in the squared-error splits); each
  leaf then holds the weighted mean action of its states (``leaf_model="constant"``, the
  behaviour-cloned tree of VIPER-style baselines) or a weighted ridge fit of the action on the
  state (``"linear"``, a model tree whose leaves read as local linear controllers). Prediction,
  storage, readable rules and exports come from ``LeafTree``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, register
from hybrid.students._split_tree import LEAF, LeafTree, SplitTree, f32_split_bound
from provenance.hashing import canonical_json

__all__ = ["RegressionTreeStudent", "TreeStudent", "f32_split_bound"]

_CRITERIA = ("soft", "hard")
_PY_NESTING_MAX = 60  # Python's tokenizer refuses ~100 indentation levels; deeper trees export as a table walk


@register
class TreeStudent(SplitTree):
    """A decision tree on teacher probabilities (``"soft"``) or the teacher's argmax (``"hard"``).

    Parameters
    ----------
    max_depth, max_leaf_nodes, min_samples_leaf: passed to scikit-learn's tree.
    criterion: ``"soft"`` (regression on P; leaves hold mean teacher probabilities) or
        ``"hard"`` (classification of argmax P; leaves hold class frequencies).
    random_state: seed of scikit-learn's feature permutation (ties between equal splits).
    """

    family = "tree"
    searched_by_default = True
    search_order = 0
    colour = "#1b9e77"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Depths 1–12, then best-first trees by leaf count."""
        by_depth = [{"max_depth": d, "min_samples_leaf": 1} for d in (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)]
        by_leaves = [{"max_depth": None, "max_leaf_nodes": n, "min_samples_leaf": 5} for n in (12, 24, 48, 96)]
        return by_depth + by_leaves

    def __init__(
        self,
        max_depth: int | None = None,
        max_leaf_nodes: int | None = None,
        min_samples_leaf: int = 1,
        criterion: str = "soft",
        random_state: int = 0,
    ) -> None:
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.criterion = criterion
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.criterion not in _CRITERIA:
            raise ParameterError(f"criterion must be one of {_CRITERIA}; got {self.criterion!r}.")

    def _fit(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """Grow the tree with scikit-learn, then keep only its arrays."""
        _grow_probabilities(self, X, P, w)

    # -- inference ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """The leaf's probabilities: mean teacher probabilities (soft) or class shares (hard)."""
        leaves = self.apply(X)  # checks fitted and X first
        return self.value_[leaves]

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """Comparisons on the path averaged over training states; parameters = nodes."""
        self._check_fitted()
        return Cost(parameters=len(self.feature_), ops_per_decision=self.expected_comparisons_, bytes=len(canonical_json(self.to_dict())))

    def _state(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
            **self._split_state(),
            "value": self.value_.tolist(),
            "expected_comparisons": self.expected_comparisons_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])
        self._set_split_state(state)
        self.value_ = np.asarray(state["value"], dtype=np.float64).reshape(len(self.feature_), -1)
        self.expected_comparisons_ = float(state["expected_comparisons"])

    def _leaf_text(self, node: int, p: int) -> str:
        """The leaf's action and the share of the teacher's probability behind it."""
        value = self.value_[node]
        return f"{self.action_names_[int(np.argmax(value))]}   # p = {float(value.max()):.{p}g}"

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action index."""
        self._check_fitted()
        return f'"""Tree student {self.content_hash} (agent-distill): decide(state) -> action index."""\n\n\n' + self.python_function("decide")

    def python_function(self, name: str) -> str:
        """Source of ``def name(state) -> int``: nested ifs, or a table walk for very deep trees."""
        actions = self.value_.argmax(axis=1)
        if self.depth_ <= _PY_NESTING_MAX:
            lines = [f"def {name}(state):", *self.branch_source("python", lambda node, indent: [f"{indent}return {int(actions[node])}"])]
            return "\n".join(lines) + "\n"
        table = [
            (int(f), f32_split_bound(t), int(lo), int(r), int(a)) for f, t, lo, r, a in zip(self.feature_, self.threshold_, self.left_, self.right_, actions)
        ]
        return (
            f"_{name}_NODES = {table!r}  # (feature, bound, left, right, action); feature -1 = leaf\n\n\n"
            f"def {name}(state):\n    node = _{name}_NODES[0]\n    while node[0] >= 0:\n"
            f"        node = _{name}_NODES[node[2] if state[node[0]] <= node[1] else node[3]]\n"
            "    return node[4]\n"
        )

    def c_source(self) -> str:
        """A C99 header with ``static inline int decide(const double *state)``."""
        self._check_fitted()
        return (
            f"/* Tree student {self.content_hash} (agent-distill): decide(state) -> action index. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n" + self.c_function("decide") + "\n#endif\n"
        )

    def c_function(self, name: str) -> str:
        """C source of ``static inline int name(const double *state)`` as nested ifs."""
        actions = self.value_.argmax(axis=1)
        body = self.branch_source("c", lambda node, indent: [f"{indent}return {int(actions[node])};"])
        return "\n".join([f"static inline int {name}(const double *state) {{", *body, "}"]) + "\n"


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
        _grow_actions(self, X, A, w)


def _sklearn_tree(student: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, *, classify: bool = False) -> Any:
    """scikit-learn's tree grown with the student's size and seed; its own parameter errors are
    ``ParameterError`` naming the family."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    grow = dict(
        max_depth=student.max_depth, max_leaf_nodes=student.max_leaf_nodes, min_samples_leaf=student.min_samples_leaf, random_state=student.random_state
    )
    try:
        return (DecisionTreeClassifier if classify else DecisionTreeRegressor)(**grow).fit(X, y, sample_weight=w)
    except ValueError as e:  # scikit-learn's own parameter validation
        raise ParameterError(f"{type(student).__name__} hyperparameters rejected by scikit-learn: {e}") from None


def _grow_probabilities(tree: TreeStudent, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
    """Leaves of mean probabilities (soft) or class shares (hard); every internal node is one
    comparison for each state passing it (the expected comparisons)."""
    if tree.criterion == "soft":
        sk = _sklearn_tree(tree, X, P, w)
        value = sk.tree_.value[:, :, 0].astype(np.float64)
    else:
        sk = _sklearn_tree(tree, X, P.argmax(axis=1), w, classify=True)
        value = np.zeros((sk.tree_.node_count, P.shape[1]))
        value[:, sk.classes_] = sk.tree_.value[:, 0, :]
        value /= value.sum(axis=1, keepdims=True)
    t = sk.tree_
    leaf = t.children_left == -1
    tree.feature_ = np.where(leaf, LEAF, t.feature).astype(np.int64)
    tree.threshold_ = np.where(leaf, 0.0, t.threshold)
    tree.left_ = np.where(leaf, LEAF, t.children_left).astype(np.int64)
    tree.right_ = np.where(leaf, LEAF, t.children_right).astype(np.int64)
    tree.value_ = np.where(leaf[:, None], value, 0.0)
    tree.expected_comparisons_ = float(t.n_node_samples[~leaf].sum() / t.n_node_samples[0])


def _grow_actions(tree: RegressionTreeStudent, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
    """Splits on the actions scaled to ``[0, 1]`` per dimension, then each leaf's action fitted on its states."""
    sk = _sklearn_tree(tree, X, (A - tree.action_low_) / (tree.action_high_ - tree.action_low_), w)
    t = sk.tree_
    leaf = t.children_left == -1
    n_nodes, m, d = t.node_count, A.shape[1], X.shape[1]
    intercept, coef = np.zeros((n_nodes, m)), np.zeros((n_nodes, m, d))
    where = sk.apply(X)
    X64 = X.astype(np.float64)
    for node in np.flatnonzero(leaf):
        rows = where == node
        intercept[node], coef[node] = tree._leaf_action(X64[rows], A[rows], w[rows])
    tree._set_tree(
        np.where(leaf, LEAF, t.feature),
        np.where(leaf, 0.0, t.threshold),
        np.where(leaf, LEAF, t.children_left),
        np.where(leaf, LEAF, t.children_right),
        intercept,
        coef,
        t.weighted_n_node_samples,
    )
