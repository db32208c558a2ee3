"""Conditions: the tests rule lists and trees are made of, with their text and source forms.

A ``Condition`` tests ``lower < Σ weights[i]·x[features[i]] <= upper``: one feature with weight 1
(axis-aligned), or an oblique projection of up to ``MAX_OBLIQUE_FEATURES`` features. Both rule
lists (``hybrid.students.rules``), trees with action leaves (``hybrid.students._split_tree``) and
the hybrid's router compute, print and export conditions through this module, so numpy, Python
and C evaluate the same sums in the same order. ``oblique_directions`` finds the sparse
projections that separate a teacher's actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

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
