"""TreeStudent: a decision tree distilled from teacher probabilities, run on its own arrays.

Fit: scikit-learn grows the tree — ``criterion="soft"`` regresses the teacher's probability
vectors (multi-output, so each leaf holds the mean teacher probabilities of its states);
``criterion="hard"`` classifies the teacher's argmax, with
``sample_weight`` passed through. The fitted tree is then copied into plain arrays (feature,
threshold, children, leaf probabilities), and prediction, storage and exports read only those:
a loaded tree needs no scikit-learn, and its exports not even numpy.

Exactness: scikit-learn rounds states to float32 and compares them, widened to double, with
double thresholds (midpoints of float32 values). The numpy path does the same; the Python and C
exports take double states and compare them with the double bound ``f32_split_bound(threshold)``,
which sends every double to the side its float32 rounding goes, so all three agree on every
state, including those exactly on a threshold.

Cost: operations per decision = comparisons on the path, averaged over the training states
(the same rule RuleListStudent uses: checks up to the deciding rule, averaged over training
states); parameters = nodes; bytes = length of the canonical JSON artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights, register, resolve_names
from provenance.hashing import canonical_json

_CRITERIA = ("soft", "hard")
_LEAF = -1
_PY_NESTING_MAX = 60  # Python's tokenizer refuses ~100 indentation levels; deeper trees export as a table walk


@register
class TreeStudent(Student):
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

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self, X: Any, P: Any, sample_weight: Any = None, *, feature_names: Sequence[str] | None = None, action_names: Sequence[str] | None = None
    ) -> TreeStudent:
        """Grow the tree with scikit-learn, then keep only its arrays."""
        X = check_states(X)
        P = check_targets(P, X.shape[0])
        w = check_weights(sample_weight, X.shape[0])
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, P.shape[1], "action_", "action_names", "actions")
        if self.criterion not in _CRITERIA:
            raise ParameterError(f"criterion must be one of {_CRITERIA}; got {self.criterion!r}.")
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        grow = dict(max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state)
        try:
            if self.criterion == "soft":
                sk = DecisionTreeRegressor(**grow).fit(X, P, sample_weight=w)
                value = sk.tree_.value[:, :, 0].astype(np.float64)
            else:
                sk = DecisionTreeClassifier(**grow).fit(X, P.argmax(axis=1), sample_weight=w)
                value = np.zeros((sk.tree_.node_count, P.shape[1]))
                value[:, sk.classes_] = sk.tree_.value[:, 0, :]
                value /= value.sum(axis=1, keepdims=True)
        except ValueError as e:  # scikit-learn's own parameter validation
            raise ParameterError(f"TreeStudent hyperparameters rejected by scikit-learn: {e}") from None
        t = sk.tree_
        leaf = t.children_left == -1
        self.feature_ = np.where(leaf, _LEAF, t.feature).astype(np.int64)
        self.threshold_ = np.where(leaf, 0.0, t.threshold)
        self.left_ = np.where(leaf, _LEAF, t.children_left).astype(np.int64)
        self.right_ = np.where(leaf, _LEAF, t.children_right).astype(np.int64)
        self.value_ = np.where(leaf[:, None], value, 0.0)
        # expected comparisons: every internal node is one comparison for each state passing it
        self.expected_comparisons_ = float(t.n_node_samples[~leaf].sum() / t.n_node_samples[0])
        self.n_features_in_, self.n_actions_ = X.shape[1], P.shape[1]
        return self

    # -- inference ----------------------------------------------------------------------------
    def apply(self, X: Any) -> np.ndarray:
        """Index of the leaf each state falls in (float32 states against double thresholds, as scikit-learn)."""
        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_)
        node = np.zeros(X.shape[0], dtype=np.int64)
        active = np.flatnonzero(self.feature_[node] != _LEAF)
        while active.size:
            n = node[active]
            go_left = X[active, self.feature_[n]] <= self.threshold_[n]
            node[active] = np.where(go_left, self.left_[n], self.right_[n])
            active = active[self.feature_[node[active]] != _LEAF]
        return node

    def predict_proba(self, X: Any) -> np.ndarray:
        """The leaf's probabilities: mean teacher probabilities (soft) or class shares (hard)."""
        leaves = self.apply(X)  # checks fitted and X first
        return self.value_[leaves]

    @property
    def depth_(self) -> int:
        """Length of the longest root-to-leaf path."""
        self._check_fitted()
        depth = np.zeros(len(self.feature_), dtype=np.int64)
        for node in range(len(self.feature_)):  # scikit-learn numbers parents before children
            if self.feature_[node] != _LEAF:
                depth[[self.left_[node], self.right_[node]]] = depth[node] + 1
        return int(depth.max())

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """Comparisons on the path averaged over training states; parameters = nodes."""
        self._check_fitted()
        return Cost(parameters=len(self.feature_), ops_per_decision=self.expected_comparisons_, bytes=len(canonical_json(self.to_dict())))

    def _state(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
            "feature": self.feature_.tolist(),
            "threshold": self.threshold_.tolist(),
            "left": self.left_.tolist(),
            "right": self.right_.tolist(),
            "value": self.value_.tolist(),
            "expected_comparisons": self.expected_comparisons_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])
        self.feature_ = np.asarray(state["feature"], dtype=np.int64)
        self.threshold_ = np.asarray(state["threshold"], dtype=np.float64)
        self.left_ = np.asarray(state["left"], dtype=np.int64)
        self.right_ = np.asarray(state["right"], dtype=np.int64)
        self.value_ = np.asarray(state["value"], dtype=np.float64).reshape(len(self.feature_), -1)
        self.expected_comparisons_ = float(state["expected_comparisons"])

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action index."""
        self._check_fitted()
        return f'"""Tree student {self.content_hash} (agent-distill): decide(state) -> action index."""\n\n\n' + self.python_function("decide")

    def python_function(self, name: str) -> str:
        """Source of ``def name(state) -> int``: nested ifs, or a table walk for very deep trees."""
        actions = self.value_.argmax(axis=1)
        if self.depth_ <= _PY_NESTING_MAX:
            lines = [f"def {name}(state):", *self._nested("    ", 0, actions, "if state[{f}] <= {t!r}:", "else:", "return {a}")]
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
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n" + self._c_function("decide") + "\n#endif\n"
        )

    def _c_function(self, name: str) -> str:
        """C source of ``static inline int name(const double *state)`` as nested ifs."""
        body = self._nested("    ", 0, self.value_.argmax(axis=1), "if (state[{f}] <= {t!r}) {{", "}} else {{", "return {a};", close="}}")
        return "\n".join([f"static inline int {name}(const double *state) {{", *body, "}"]) + "\n"

    def _nested(self, indent: str, node: int, actions: np.ndarray, test: str, other: str, leaf: str, close: str = "") -> list[str]:
        """Lines of the subtree at ``node``, with templates for the test, else-branch and leaf."""
        if self.feature_[node] == _LEAF:
            return [indent + leaf.format(a=int(actions[node]))]
        inner = indent + "    "
        lines = [indent + test.format(f=int(self.feature_[node]), t=f32_split_bound(self.threshold_[node]))]
        lines += self._nested(inner, int(self.left_[node]), actions, test, other, leaf, close)
        lines.append(indent + other.format())
        lines += self._nested(inner, int(self.right_[node]), actions, test, other, leaf, close)
        return lines + ([indent + close.format()] if close else [])


def f32_split_bound(threshold: float) -> float:
    """The double ``b`` with ``x <= b`` exactly when ``float32(x) <= threshold``.

    Lets exports compare double states with one comparison and still agree with scikit-learn,
    which rounds states to float32 first (round to nearest, ties to even). With ``t`` the
    largest float32 ≤ threshold, ``b`` is the midpoint to the next float32 up when that
    midpoint rounds down to ``t``, else the double just below it.
    """
    t = np.float32(threshold)
    if float(t) > threshold:
        t = np.nextafter(t, np.float32(-np.inf))
    up = np.nextafter(t, np.float32(np.inf))
    upper = 2.0**128 if np.isinf(up) else float(up)
    mid = (float(t) + upper) / 2.0  # exact: float32 values have 24-bit significands
    ties_down = int(t.view(np.uint32)) & 1 == 0
    return mid if ties_down else float(np.nextafter(mid, -np.inf))
