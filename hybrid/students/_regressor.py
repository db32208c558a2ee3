"""What continuous-action students share: bounds, target checks, and trees with linear leaves.

A continuous student maps states to action vectors ``[n, m]`` within per-dimension bounds
(``action_low_``, ``action_high_``; given to ``fit``, else the range of the teacher's actions).
``predict`` returns the clipped actions; ``predict_proba`` does not exist for them.

``LeafTree`` is the fitted form of the two tree-shaped families (``RegressionTreeStudent``
and ``LinearRuleListStudent``): split arrays as in ``TreeStudent`` plus, per leaf, an
intercept ``[m]`` and coefficients ``[m, d]`` (all zero for constant leaves). Both families
predict, cost, store, print rules and export through it; they differ only in how they grow.
Splits follow ``TreeStudent``'s exactness rule (float32 states against double thresholds;
exports compare doubles with ``f32_split_bound``), and leaves are evaluated in double from the
same float64 numbers in numpy, Python and C, so exports equal ``predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from hybrid.errors import DataError, ParameterError
from hybrid.students._base import Cost, Student, check_states, check_weights, resolve_names
from hybrid.students.rules import Condition, condition_source, term_text
from hybrid.students.tree import f32_split_bound
from provenance.hashing import canonical_json

LEAF = -1
LEAF_MODELS = ("constant", "linear")
_R = TypeVar("_R", bound="RegressorStudent")


def check_actions(A: Any, n_states: int) -> np.ndarray:
    """Teacher actions as float64 ``[n, m]`` (a 1-D array is one action dimension), finite."""
    a = np.asarray(A, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[0] != n_states:
        raise DataError(f"actions must be [n_states, n_action_dims] aligned with X ({n_states} states); got shape {a.shape}.")
    if not np.isfinite(a).all():
        raise DataError(f"actions hold NaN or infinity at row {int(np.argwhere(~np.isfinite(a))[0][0])}; pass finite teacher actions.")
    return a


def check_bounds(A: np.ndarray, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension bounds, defaulting to the actions' range; refuses high <= low."""
    m = A.shape[1]
    lo = A.min(axis=0) if low is None else np.broadcast_to(np.asarray(low, dtype=np.float64), (m,)).copy()
    hi = A.max(axis=0) if high is None else np.broadcast_to(np.asarray(high, dtype=np.float64), (m,)).copy()
    hi = np.where(hi > lo, hi, lo + 1.0) if high is None else hi
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
        raise DataError(f"action bounds must be finite with high > low per dimension; got {lo.tolist()}..{hi.tolist()}.")
    return lo, hi


class RegressorStudent(Student):
    """Base of the continuous families: the fit boundary, bounds, clipping, names and storage of both.

    ``fit`` checks what every family takes alike — hyperparameters (``_check_params``), states,
    actions, weights, bounds and names — once, then hands the checked arrays to ``_fit``.
    """

    action_kind: ClassVar[str] = "continuous"

    def fit(
        self: _R,
        X: Any,
        A: Any,
        sample_weight: Any = None,
        *,
        action_low: Any = None,
        action_high: Any = None,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
    ) -> _R:
        """Learn from states ``X [n, d]`` and the teacher's actions ``A [n, m]`` (clipped to the
        bounds, which default to the actions' range); returns self."""
        self._check_params()
        X = check_states(X)
        A = check_actions(A, X.shape[0])
        w = check_weights(sample_weight, X.shape[0])
        self.action_low_, self.action_high_ = check_bounds(A, action_low, action_high)
        self.n_features_in_, self.n_actions_ = X.shape[1], A.shape[1]
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, A.shape[1], "action_", "action_names", "action dimensions")
        self._fit(X, np.clip(A, self.action_low_, self.action_high_), np.ones(X.shape[0]) if w is None else w)
        return self

    def _check_params(self) -> None:
        """Refuse hyperparameters the family cannot use (``DataError``); called before any work."""

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:  # pragma: no cover
        """Learn from checked float32 states, float64 actions within the bounds and weights."""
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """Not defined: a continuous student predicts actions (``predict``), not probabilities."""
        raise DataError(f"{type(self).__name__} predicts continuous actions; use predict(X) -> [n, m]")

    def _clip(self, A: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(A, self.action_low_), self.action_high_)

    def _shared_state(self) -> dict[str, Any]:
        return {
            "action_low": self.action_low_.tolist(),
            "action_high": self.action_high_.tolist(),
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
        }

    def _set_shared_state(self, state: dict[str, Any]) -> None:
        self.action_low_ = np.asarray(state["action_low"], dtype=np.float64)
        self.action_high_ = np.asarray(state["action_high"], dtype=np.float64)
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])


class LeafTree(RegressorStudent):
    """A binary tree of splits whose leaves hold constant or linear actions.

    A split tests one column of ``[state, oblique projections]``: column ``f < d`` is feature
    ``f``; column ``d + i`` is ``oblique_[i]``, a weighted sum of up to three features (the
    discrete rule list's ``Condition``), compared in double against its threshold. Subclasses
    take ``leaf_model`` (``"constant"`` or ``"linear"``) and ``ridge`` (penalty of the linear
    leaves, on standardised features) and fill each leaf with ``_leaf_action``.
    """

    def _check_params(self) -> None:
        if self.leaf_model not in LEAF_MODELS:
            raise ParameterError(f"leaf_model must be one of {LEAF_MODELS}; got {self.leaf_model!r}.")
        if not self.ridge >= 0:
            raise ParameterError(f"ridge must be ≥ 0; got {self.ridge}.")

    def _leaf_action(self, X64: np.ndarray, A: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(intercept [m], coef [m, d])`` of a leaf from the states it holds: a ridge fit when
        ``leaf_model="linear"`` and it holds more states than coefficients, else the weighted mean
        action (float32 values, as the linear fit's)."""
        m, d = A.shape[1], X64.shape[1]
        if self.leaf_model == "linear" and len(X64) > d + 1 and w.sum() > 0:
            return weighted_linear_fit(X64, A, w, self.ridge)
        mean = np.average(A, axis=0, weights=w if w.sum() > 0 else None)
        return mean.astype(np.float32).astype(np.float64), np.zeros((m, d))

    def _set_tree(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        intercept: np.ndarray,
        coef: np.ndarray,
        samples: np.ndarray,
        oblique: Sequence[tuple[tuple[int, ...], tuple[float, ...]]] = (),
    ) -> None:
        """Store the grown tree; ``samples`` (training weight reaching each node) gives the cost."""
        self.feature_, self.threshold_ = feature.astype(np.int64), threshold.astype(np.float64)
        self.left_, self.right_ = left.astype(np.int64), right.astype(np.int64)
        self.intercept_, self.coef_ = intercept.astype(np.float64), coef.astype(np.float64)
        self.oblique_ = [(tuple(int(f) for f in fs), tuple(float(w) for w in ws)) for fs, ws in oblique]
        internal = self.feature_ != LEAF
        self.expected_comparisons_ = float(samples[internal].sum() / samples[0]) if samples[0] > 0 else 0.0
        leaves = ~internal
        leaf_ops = (samples[leaves] * (self.coef_[leaves] != 0).sum(axis=(1, 2))).sum() + (samples * self._split_multiply_adds()).sum()
        self.expected_multiply_adds_ = float(leaf_ops / samples[0]) if samples[0] > 0 else 0.0

    def _split_multiply_adds(self) -> np.ndarray:
        """Multiply-adds of each node's split: the oblique projection's weights, else none."""
        d = self.n_features_in_
        return np.array([len(self.oblique_[f - d][0]) if f >= d else 0 for f in self.feature_], dtype=np.int64)

    def _columns(self, X: np.ndarray) -> np.ndarray:
        """``[state, oblique projections]`` in double: what the splits test (float32 states exactly)."""
        X64 = X.astype(np.float64)
        if not self.oblique_:
            return X64
        return np.column_stack([X64, *(Condition(fs, ws, None, None).value(X) for fs, ws in self.oblique_)])

    def _split_condition(self, node: int) -> Condition:
        """The test of a split node as a ``Condition`` that holds on its left branch; an axis split's
        bound reproduces the float32 comparison in double (``f32_split_bound``)."""
        f, t, d = int(self.feature_[node]), float(self.threshold_[node]), self.n_features_in_
        return Condition((f,), (1.0,), None, f32_split_bound(t)) if f < d else Condition(self.oblique_[f - d][0], self.oblique_[f - d][1], None, t)

    def apply(self, X: Any) -> np.ndarray:
        """Leaf index of each state (float32 states against double thresholds, as scikit-learn)."""
        self._check_fitted()
        C = self._columns(check_states(X, n_features=self.n_features_in_))
        node = np.zeros(C.shape[0], dtype=np.int64)
        active = np.flatnonzero(self.feature_[node] != LEAF)
        while active.size:
            n = node[active]
            go_left = C[active, self.feature_[n]] <= self.threshold_[n]
            node[active] = np.where(go_left, self.left_[n], self.right_[n])
            active = active[self.feature_[node[active]] != LEAF]
        return node

    def predict(self, X: Any) -> np.ndarray:
        """The leaf's action, ``intercept + coef · state``, clipped to the bounds: float64 ``[n, m]``."""
        leaves = self.apply(X)
        X64 = check_states(X, n_features=self.n_features_in_).astype(np.float64)
        A = self.intercept_[leaves] + np.einsum("nmd,nd->nm", self.coef_[leaves], X64)
        return self._clip(A)

    @property
    def n_leaves_(self) -> int:
        """Number of leaves (= rules when printed as a rule list)."""
        self._check_fitted()
        return int((self.feature_ == LEAF).sum())

    def cost(self) -> Cost:
        """Comparisons on the path plus the leaf's non-zero multiply-adds, averaged over training
        states; parameters = split nodes + non-zero leaf numbers."""
        self._check_fitted()
        leaves = self.feature_ == LEAF
        params = int((~leaves).sum() + self._split_multiply_adds().sum() + (self.coef_[leaves] != 0).sum() + self.intercept_[leaves].size)
        return Cost(parameters=params, ops_per_decision=self.expected_comparisons_ + self.expected_multiply_adds_, bytes=len(canonical_json(self.to_dict())))

    def _tree_state(self) -> dict[str, Any]:
        oblique = {"oblique": [[list(fs), list(ws)] for fs, ws in self.oblique_]} if self.oblique_ else {}  # axis-only artifacts keep their form
        return {
            **self._shared_state(),
            **oblique,
            "feature": self.feature_.tolist(),
            "threshold": self.threshold_.tolist(),
            "left": self.left_.tolist(),
            "right": self.right_.tolist(),
            "intercept": self.intercept_.tolist(),
            "coef": self.coef_.tolist(),
            "expected_comparisons": self.expected_comparisons_,
            "expected_multiply_adds": self.expected_multiply_adds_,
        }

    def _set_tree_state(self, state: dict[str, Any]) -> None:
        self._set_shared_state(state)
        self.feature_ = np.asarray(state["feature"], dtype=np.int64)
        self.threshold_ = np.asarray(state["threshold"], dtype=np.float64)
        self.left_ = np.asarray(state["left"], dtype=np.int64)
        self.right_ = np.asarray(state["right"], dtype=np.int64)
        n = len(self.feature_)
        self.intercept_ = np.asarray(state["intercept"], dtype=np.float64).reshape(n, -1)
        self.coef_ = np.asarray(state["coef"], dtype=np.float64).reshape(n, self.intercept_.shape[1], -1)
        self.expected_comparisons_ = float(state["expected_comparisons"])
        self.expected_multiply_adds_ = float(state["expected_multiply_adds"])
        self.oblique_ = [(tuple(fs), tuple(ws)) for fs, ws in state.get("oblique", [])]

    # -- readable rules -------------------------------------------------------------------------
    def rules(self, precision: int = 3) -> list[str]:
        """One line per leaf, ``IF conditions THEN action = expression``, in tree order.

        Conditions on the same feature along a path are merged into one interval. Numbers are
        rounded to ``precision`` significant digits for reading; ``predict`` and the exports use
        the exact values.
        """
        self._check_fitted()
        out: list[str] = []

        def walk(node: int, lo: dict[int, float], hi: dict[int, float]) -> None:
            f = int(self.feature_[node])
            if f == LEAF:
                out.append(self._rule_text(node, lo, hi, precision))
                return
            t = float(self.threshold_[node])
            walk(int(self.left_[node]), lo, {**hi, f: min(hi.get(f, np.inf), t)})
            walk(int(self.right_[node]), {**lo, f: max(lo.get(f, -np.inf), t)}, hi)

        walk(0, {}, {})
        return out

    def _rule_text(self, node: int, lo: dict[int, float], hi: dict[int, float], p: int) -> str:
        names = self.feature_names_
        columns = names + [term_text(Condition(fs, ws, None, None), names) for fs, ws in self.oblique_]
        conds = []
        for f in sorted(set(lo) | set(hi)):
            if f in lo and f in hi:
                conds.append(f"{lo[f]:.{p}g} < {columns[f]} <= {hi[f]:.{p}g}")
            elif f in lo:
                conds.append(f"{columns[f]} > {lo[f]:.{p}g}")
            else:
                conds.append(f"{columns[f]} <= {hi[f]:.{p}g}")
        actions = []
        for j, name in enumerate(self.action_names_):
            terms = [f"{c:+.{p}g}·{names[i]}" for i, c in enumerate(self.coef_[node, j]) if c != 0]
            expr = f"{self.intercept_[node, j]:.{p}g}" + "".join(f" {t[0]} {t[1:]}" for t in terms)
            actions.append(f"{name} = {expr}")
        head = "IF " + " AND ".join(conds) if conds else "ALWAYS"
        return f"{head} THEN " + ", ".join(actions)

    # -- exports ----------------------------------------------------------------------------------
    def _leaf_expressions(self, node: int, state: str) -> list[tuple[str, float, float]]:
        """Double-precision source of each action dimension at a leaf, clipped to its bounds."""
        exprs = []
        for j in range(self.n_actions_):
            terms = [repr(float(self.intercept_[node, j]))]
            terms += [f"{float(c)!r} * {state}[{i}]" for i, c in enumerate(self.coef_[node, j]) if c != 0]
            exprs.append((" + ".join(terms), float(self.action_low_[j]), float(self.action_high_[j])))
        return exprs

    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action tuple."""
        self._check_fitted()
        lines = [f'"""{self.family} student {self.content_hash} (agent-distill): decide(state) -> action tuple."""', "", "", "def decide(state):"]
        lines += self._py_node(0, "    ")
        return "\n".join(lines) + "\n"

    def _py_node(self, node: int, indent: str, leaf_code: Any = None) -> list[str]:
        """Nested ifs of the subtree at ``node``; ``leaf_code(node, indent)`` may replace a leaf's lines."""
        if self.feature_[node] == LEAF:
            if leaf_code is not None and (lines := leaf_code(node, indent)) is not None:
                return lines
            parts = [f"min(max({e}, {lo!r}), {hi!r})" for e, lo, hi in self._leaf_expressions(node, "state")]
            return [f"{indent}return ({', '.join(parts)},)"]
        test = f"{indent}if {condition_source(self._split_condition(node), 'python')}:"
        return [
            test,
            *self._py_node(int(self.left_[node]), indent + "    ", leaf_code),
            f"{indent}else:",
            *self._py_node(int(self.right_[node]), indent + "    ", leaf_code),
        ]

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        body = self._c_node(0, "    ")
        return (
            f"/* {self.family} student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) clipped to their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n"
            "static inline double agent_distill_clip(double v, double lo, double hi) {\n"
            "    return v < lo ? lo : (v > hi ? hi : v);\n}\n\n"
            "static inline void decide(const double *state, double *action) {\n" + "\n".join(body) + "\n}\n\n#endif\n"
        )

    def _c_node(self, node: int, indent: str, leaf_code: Any = None) -> list[str]:
        """Nested ifs of the subtree at ``node``; ``leaf_code(node, indent)`` may replace a leaf's lines."""
        if self.feature_[node] == LEAF:
            if leaf_code is not None and (lines := leaf_code(node, indent)) is not None:
                return lines
            return [
                f"{indent}action[{j}] = agent_distill_clip({e}, {lo!r}, {hi!r});" for j, (e, lo, hi) in enumerate(self._leaf_expressions(node, "state"))
            ] + [f"{indent}return;"]
        test = f"{indent}if ({condition_source(self._split_condition(node), 'c')}) {{"
        return [
            test,
            *self._c_node(int(self.left_[node]), indent + "    ", leaf_code),
            f"{indent}}} else {{",
            *self._c_node(int(self.right_[node]), indent + "    ", leaf_code),
            f"{indent}}}",
        ]


def weighted_linear_fit(X: np.ndarray, A: np.ndarray, w: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ridge fit ``A ≈ b + X · Wᵀ`` (intercept not penalised); returns ``(b [m], W [m, d])``.

    Features are scaled to unit spread before the penalty so ``ridge`` means the same for every
    feature; coefficients are returned on the raw features and rounded to float32 values.
    """
    sw = w / w.sum()
    mean = sw @ X
    scale = np.sqrt(sw @ (X - mean) ** 2)
    scale = np.where(scale > 1e-12, scale, 1.0)
    Z = (X - mean) / scale
    ZtZ = Z.T @ (Z * sw[:, None]) + ridge * np.eye(X.shape[1])
    Amean = sw @ A
    beta = np.linalg.solve(ZtZ, Z.T @ ((A - Amean) * sw[:, None]))  # [d, m]
    coef = (beta / scale[:, None]).T
    coef = np.where(np.abs(coef) * scale[None, :] < 1e-9, 0.0, coef)  # features that play no part stay out
    intercept = Amean - coef @ mean
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    return f32(intercept), f32(coef)


def fit_continuous(student: Any, dataset: Any, sample_weight: Any = None) -> Any:
    """Fit a continuous student on a continuous ``DistillDataset``: its actions, weights, bounds and
    names (``sample_weight`` overrides the dataset's weights)."""
    if getattr(dataset, "action_kind", None) != "continuous":
        raise DataError("fit_continuous needs a continuous dataset (action_kind='continuous'); discrete data fits discrete families")
    weights = dataset.weights if sample_weight is None else sample_weight
    return student.fit(
        dataset.X,
        dataset.P,
        weights,
        action_low=dataset.action_low,
        action_high=dataset.action_high,
        feature_names=dataset.feature_names,
        action_names=dataset.action_names,
    )
