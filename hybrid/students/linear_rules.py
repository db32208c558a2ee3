"""LinearRuleListStudent: at most ``max_rules`` rules whose actions are linear in the state.

A model tree grown for its leaves (in the spirit of Quinlan's M5): every candidate split is
scored by the squared error left after fitting a *linear* controller on each side, not a
constant, so a few rules suffice where the teacher acts like a gain schedule. Growth is
best-first: the leaf whose best split removes the most weighted error is split next, until
``max_rules`` leaves or no split helps. Split search is exact over up to ``n_thresholds``
quantile cut points per feature, from prefix sums of the weighted normal equations (one pass
per feature, one small batched solve per cut point).

The result prints as a rule list (``rules()``): the leaves in tree order, each
``IF <intervals> THEN action = b + w·state``, mutually exclusive and covering every state.
Actions are scaled to ``[0, 1]`` per dimension while growing, so every dimension counts alike.

Oblique conditions (``oblique=True``), as in the discrete ``RuleListStudent`` and with its code:
each action dimension is cut at its tertiles into low / middle / high, and the rule list's
sparse logistic directions separating those three (``rules.oblique_directions``: one per class
against the rest and one per pair, each over at most three features) become extra columns the
growth may split on. A condition then reads ``-0.2 < 0.5·vx - 1·angle <= 0.4``; it is computed in
double, left to right, the same in ``predict`` and the exports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import register
from hybrid.students._regressor import LEAF, LeafTree
from hybrid.students.rules import oblique_directions


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

    def _state(self) -> dict[str, Any]:
        return self._tree_state()

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_tree_state(state)


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
