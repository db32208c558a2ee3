"""Binary trees of splits, shared by every tree-shaped family, and trees whose leaves hold actions.

``SplitTree`` is the split part of a fitted tree in arrays, as scikit-learn numbers its nodes:
per node the tested column ``feature_`` (``LEAF`` = -1 marks a leaf), the double ``threshold_``
and the children ``left_``/``right_``. States are float32 and compared in double against the
thresholds (as scikit-learn does); exports compare doubles with ``f32_split_bound``, which
reproduces that comparison exactly. It walks states to leaves (``apply``), measures the depth,
stores the split arrays, and writes the nested ``if``s of the Python and C exports with the
leaves' code left to the family: ``TreeStudent`` (leaves of probabilities) and ``LeafTree``.

``LeafTree`` is the fitted form of the families whose leaves hold actions
(``RegressionTreeStudent`` and ``LinearRuleListStudent``): per leaf an intercept ``[m]`` and
coefficients ``[m, d]`` (all zero for constant leaves), and splits that may also test an oblique
projection. Both predict, cost, store, print rules and export through it; they differ only in
how they grow. Leaves are evaluated in double from the same float64 numbers in numpy, Python
and C, so exports equal ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import BoxStudent, Cost, Student, check_states
from hybrid.students._conditions import Condition, condition_source, term_text
from provenance.hashing import canonical_json

LEAF = -1
LEAF_MODELS = ("constant", "linear")
LeafCode = Callable[[int, str], list[str]]  # (leaf node, indent) -> the leaf's source lines


class SplitTree(Student):
    """The splits of a fitted tree in arrays: the base of every tree-shaped family."""

    feature_: np.ndarray
    threshold_: np.ndarray
    left_: np.ndarray
    right_: np.ndarray

    def _columns(self, X: np.ndarray) -> np.ndarray:
        """What the splits test: the float32 states themselves (compared in double)."""
        return X

    def _split_condition(self, node: int) -> Condition:
        """The test of a split node as a ``Condition`` that holds on its left branch; the bound
        reproduces the float32 comparison in double (``f32_split_bound``)."""
        return Condition((int(self.feature_[node]),), (1.0,), None, f32_split_bound(float(self.threshold_[node])))

    def apply(self, X: Any) -> np.ndarray:
        """Index of the leaf each state falls in (float32 states against double thresholds, as scikit-learn)."""
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

    @property
    def depth_(self) -> int:
        """Length of the longest root-to-leaf path."""
        self._check_fitted()
        depth = np.zeros(len(self.feature_), dtype=np.int64)
        for node in range(len(self.feature_)):  # parents are numbered before their children
            if self.feature_[node] != LEAF:
                depth[[self.left_[node], self.right_[node]]] = depth[node] + 1
        return int(depth.max())

    def _split_state(self) -> dict[str, Any]:
        return {"feature": self.feature_.tolist(), "threshold": self.threshold_.tolist(), "left": self.left_.tolist(), "right": self.right_.tolist()}

    def _set_split_state(self, state: dict[str, Any]) -> None:
        self.feature_ = np.asarray(state["feature"], dtype=np.int64)
        self.threshold_ = np.asarray(state["threshold"], dtype=np.float64)
        self.left_ = np.asarray(state["left"], dtype=np.int64)
        self.right_ = np.asarray(state["right"], dtype=np.int64)

    # -- readable rules -----------------------------------------------------------------------
    def rules(self, precision: int = 3) -> list[str]:
        """One line per leaf, ``IF conditions THEN action``, in tree order.

        Conditions on the same feature along a path are merged into one interval. Numbers are
        rounded to ``precision`` significant digits for reading; ``predict`` and the exports use
        the exact values.
        """
        self._check_fitted()
        out: list[str] = []

        def walk(node: int, lo: dict[int, float], hi: dict[int, float]) -> None:
            f = int(self.feature_[node])
            if f == LEAF:
                conds = self._path_text(lo, hi, precision)
                out.append(f"{'IF ' + ' AND '.join(conds) if conds else 'ALWAYS'} THEN {self._leaf_text(node, precision)}")
                return
            t = float(self.threshold_[node])
            walk(int(self.left_[node]), lo, {**hi, f: min(hi.get(f, np.inf), t)})
            walk(int(self.right_[node]), {**lo, f: max(lo.get(f, -np.inf), t)}, hi)

        walk(0, {}, {})
        return out

    def to_text(self) -> str:
        """The rules, one leaf a line (what ``rules()`` gives, joined)."""
        return "\n".join(self.rules())

    def _path_text(self, lo: dict[int, float], hi: dict[int, float], p: int) -> list[str]:
        """The merged conditions of a path: ``a < x <= b``, ``x > a`` or ``x <= b`` per tested column."""
        names = self.feature_names_
        columns = names + [term_text(Condition(fs, ws, None, None), names) for fs, ws in getattr(self, "oblique_", [])]
        conds = []
        for f in sorted(set(lo) | set(hi)):
            if f in lo and f in hi:
                conds.append(f"{lo[f]:.{p}g} < {columns[f]} <= {hi[f]:.{p}g}")
            elif f in lo:
                conds.append(f"{columns[f]} > {lo[f]:.{p}g}")
            else:
                conds.append(f"{columns[f]} <= {hi[f]:.{p}g}")
        return conds

    def _leaf_text(self, node: int, p: int) -> str:  # pragma: no cover
        raise NotImplementedError

    def branch_source(self, language: str, leaf: LeafCode, indent: str = "    ", node: int = 0) -> list[str]:
        """Nested ifs (``"python"`` or ``"c"``) of the subtree at ``node``; ``leaf(node, indent)``
        writes each leaf's lines."""
        if self.feature_[node] == LEAF:
            return leaf(node, indent)
        test = condition_source(self._split_condition(node), language)
        inner = indent + "    "
        left = self.branch_source(language, leaf, inner, int(self.left_[node]))
        right = self.branch_source(language, leaf, inner, int(self.right_[node]))
        if language == "python":
            return [f"{indent}if {test}:", *left, f"{indent}else:", *right]
        return [f"{indent}if ({test}) {{", *left, f"{indent}}} else {{", *right, f"{indent}}}"]


class LeafTree(SplitTree, BoxStudent):
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

    def _state(self) -> dict[str, Any]:
        oblique = {"oblique": [[list(fs), list(ws)] for fs, ws in self.oblique_]} if self.oblique_ else {}  # axis-only artifacts keep their form
        return {
            **self._shared_state(),
            **oblique,
            **self._split_state(),
            "intercept": self.intercept_.tolist(),
            "coef": self.coef_.tolist(),
            "expected_comparisons": self.expected_comparisons_,
            "expected_multiply_adds": self.expected_multiply_adds_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_shared_state(state)
        self._set_split_state(state)
        n = len(self.feature_)
        self.intercept_ = np.asarray(state["intercept"], dtype=np.float64).reshape(n, -1)
        self.coef_ = np.asarray(state["coef"], dtype=np.float64).reshape(n, self.intercept_.shape[1], -1)
        self.expected_comparisons_ = float(state["expected_comparisons"])
        self.expected_multiply_adds_ = float(state["expected_multiply_adds"])
        self.oblique_ = [(tuple(fs), tuple(ws)) for fs, ws in state.get("oblique", [])]

    # -- readable rules -------------------------------------------------------------------------
    def _leaf_text(self, node: int, p: int) -> str:
        """The actions at a leaf, ``name = intercept + coef·feature …`` per dimension."""
        names, actions = self.feature_names_, []
        for j, name in enumerate(self.action_names_):
            terms = [f"{c:+.{p}g}·{names[i]}" for i, c in enumerate(self.coef_[node, j]) if c != 0]
            expr = f"{self.intercept_[node, j]:.{p}g}" + "".join(f" {t[0]} {t[1:]}" for t in terms)
            actions.append(f"{name} = {expr}")
        return ", ".join(actions)

    # -- exports ----------------------------------------------------------------------------------
    def _leaf_expressions(self, node: int, state: str) -> list[tuple[str, float, float]]:
        """Double-precision source of each action dimension at a leaf, clipped to its bounds."""
        exprs = []
        for j in range(self.n_actions_):
            terms = [repr(float(self.intercept_[node, j]))]
            terms += [f"{float(c)!r} * {state}[{i}]" for i, c in enumerate(self.coef_[node, j]) if c != 0]
            exprs.append((" + ".join(terms), float(self.action_low_[j]), float(self.action_high_[j])))
        return exprs

    def leaf_source(self, language: str) -> LeafCode:
        """The code of a leaf (``"python"`` or ``"c"``): its clipped action, returned as a tuple
        or written to ``action[]``."""

        def python(node: int, indent: str) -> list[str]:
            parts = [f"min(max({e}, {lo!r}), {hi!r})" for e, lo, hi in self._leaf_expressions(node, "state")]
            return [f"{indent}return ({', '.join(parts)},)"]

        def c(node: int, indent: str) -> list[str]:
            writes = [f"{indent}action[{j}] = agent_distill_clip({e}, {lo!r}, {hi!r});" for j, (e, lo, hi) in enumerate(self._leaf_expressions(node, "state"))]
            return [*writes, f"{indent}return;"]

        return python if language == "python" else c

    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action tuple."""
        self._check_fitted()
        lines = [f'"""{self.family} student {self.content_hash} (agent-distill): decide(state) -> action tuple."""', "", "", "def decide(state):"]
        lines += self.branch_source("python", self.leaf_source("python"))
        return "\n".join(lines) + "\n"

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        body = self.branch_source("c", self.leaf_source("c"))
        return (
            f"/* {self.family} student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) clipped to their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n\n"
            + C_CLIP
            + "static inline void decide(const double *state, double *action) {\n"
            + "\n".join(body)
            + "\n}\n\n#endif\n"
        )


C_CLIP = "static inline double agent_distill_clip(double v, double lo, double hi) {\n    return v < lo ? lo : (v > hi ? hi : v);\n}\n\n"


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
