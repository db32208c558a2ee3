"""``EntityFeaturizer``: numeric states listing entities → permutation-invariant features.

Where a decision depends on a set of entities (landmarks and other agents in MPE, other
vehicles in highway-env), a student reading raw columns must learn the same rule once per slot
and per ordering; sorting by distance and comparing groups says it once. The layout is declared
(``groups``: per group, each entity's x, y and optional presence columns) or inferred from
feature names of the form ``<group>_<i>_<dx|dy|x|y|presence>`` (:func:`infer_entity_groups`);
columns that belong to no entity are kept as they are. ``fit`` learns only the count radius (the
median distance of present entities on the training states, unless given). The computation is
:mod:`hybrid.data.entities_runtime` (standard library only), which both ``transform`` and the
Python export run; the fitted layout is plain JSON and enters the student's artifact and hash.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hybrid.data import entities_runtime as runtime
from hybrid.errors import DataError, NotFittedError

_NAME = re.compile(r"^(?P<group>.+?)_(?P<index>\d+)_(?P<field>dx|dy|x|y|presence)$")
KIND = "entities"


def infer_entity_groups(feature_names: Sequence[str] | None) -> dict[str, list[list[int]]]:
    """Groups of ≥ 2 entities named ``<group>_<i>_dx/_dy`` (or ``_x/_y``, with an optional
    ``_presence``): group → ``[[x column, y column, presence column or -1], …]`` in index order;
    empty when the names show none."""
    found: dict[str, dict[int, dict[str, int]]] = {}
    for col, name in enumerate(feature_names or ()):
        m = _NAME.match(str(name))
        if m:
            found.setdefault(m["group"], {}).setdefault(int(m["index"]), {})[m["field"]] = col
    groups = {}
    for group, entities in found.items():
        rows = []
        for i in sorted(entities):
            f = entities[i]
            x, y = f.get("dx", f.get("x")), f.get("dy", f.get("y"))
            if x is not None and y is not None:
                rows.append([x, y, f.get("presence", -1)])
        if len(rows) >= 2:
            groups[group] = rows
    return groups


class EntityFeaturizer:
    """The entity stage of a student on numeric states (see the module docstring).

    Parameters
    ----------
    groups: group name → entities ``[x column, y column(, presence column)]``; ``None`` infers
        them from the feature names given to ``fit``.
    nearest: closest entities kept per group (``None``: as many as the largest group has).
    radius: distance within which entities are counted (``None``: learnt, the median distance).
    keep_raw: keep the entity columns themselves too (a teacher trained on fixed slots may use
        which slot an entity is in, which sorting forgets).
    """

    reads_vectors: ClassVar[bool] = True  # takes numeric vectors, not records

    def __init__(
        self, groups: Mapping[str, Sequence[Sequence[int]]] | None = None, nearest: int | None = None, radius: float | None = None, keep_raw: bool = False
    ) -> None:
        self.groups = groups
        self.nearest = nearest
        self.radius = radius
        self.keep_raw = keep_raw

    def params(self) -> dict[str, Any]:
        """The constructor's arguments: an unfitted copy is ``EntityFeaturizer(**f.params())``."""
        return {"groups": self.groups, "nearest": self.nearest, "radius": self.radius, "keep_raw": self.keep_raw}

    def fit(self, X: Any, feature_names: Sequence[str] | None = None) -> EntityFeaturizer:
        """Fix the layout (declared or inferred from ``feature_names``) and learn the radius."""
        X = _matrix(X)
        groups = {str(k): [_entity(e) for e in v] for k, v in self.groups.items()} if self.groups is not None else infer_entity_groups(feature_names)
        if not groups:
            raise DataError(
                "no entities found: name entity columns <group>_<i>_dx / <group>_<i>_dy (e.g. landmark_0_dx) or pass groups={'landmark': [[x_col, y_col], …]}"
            )
        used = {c for es in groups.values() for e in es for c in e if c >= 0}
        if max(used) >= X.shape[1]:
            raise DataError(f"an entity column ({max(used)}) is beyond the states' {X.shape[1]} columns; fix groups=…")
        largest = max(len(es) for es in groups.values())
        nearest = largest if self.nearest is None else int(self.nearest)
        if nearest < 1:
            raise DataError(f"nearest must be ≥ 1 entity per group; got {self.nearest!r}")
        keep = [c for c in range(X.shape[1]) if self.keep_raw or c not in used]
        radius = self.radius if self.radius is not None else _median_distance(X, groups)
        self.layout_ = [keep, [[g, es] for g, es in groups.items()], nearest, float(radius)]
        names = [] if feature_names is None else [str(n) for n in feature_names]
        self.feature_names_ = _names(self.layout_, names)
        self.n_features_in_ = int(X.shape[1])
        self.n_features_out_ = len(self.feature_names_)
        self.mean_lookups_ = float(layout_ops(self.layout_))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "layout_"):
            raise NotFittedError("EntityFeaturizer is not fitted; call fit(states, feature_names) first")

    def transform(self, X: Any) -> np.ndarray:
        """Features ``[n, n_features_out_]`` (float32) of numeric states ``[n, d]``."""
        self._check_fitted()
        X = _matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"states have {X.shape[1]} columns but the entity featurizer was fitted on {self.n_features_in_}")
        rows = X.astype(np.float64).tolist()
        return np.asarray([runtime.entity_features(r, self.layout_) for r in rows], dtype=np.float32).reshape(len(rows), self.n_features_out_)

    def to_dict(self) -> dict[str, Any]:
        """The fitted layout and names as JSON (part of the student's artifact and hash)."""
        self._check_fitted()
        return {
            "kind": KIND,
            "keep_raw": bool(self.keep_raw),
            "layout": self.layout_,
            "feature_names": list(self.feature_names_),
            "n_features_in": self.n_features_in_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EntityFeaturizer:
        """Rebuild a fitted featurizer from ``to_dict()``."""
        keep, groups, nearest, radius = data["layout"]
        out = cls(groups={g: es for g, es in groups}, nearest=int(nearest), radius=float(radius), keep_raw=bool(data.get("keep_raw", False)))
        out.layout_ = [list(keep), [[g, [list(e) for e in es]] for g, es in groups], int(nearest), float(radius)]
        out.feature_names_ = [str(n) for n in data["feature_names"]]
        out.n_features_in_ = int(data["n_features_in"])
        out.n_features_out_ = len(out.feature_names_)
        out.mean_lookups_ = float(layout_ops(out.layout_))
        return out

    def python_source(self) -> str:
        """Standard-library source defining ``features(state) -> list`` (the runtime and layout)."""
        self._check_fitted()
        source = inspect.getsource(runtime).split('"""', 2)[2].lstrip("\n")
        return source + f"\n\nLAYOUT = {self.layout_!r}\n\n\ndef features(state):\n    return entity_features(state, LAYOUT)\n"


def layout_ops(layout: Sequence[Any]) -> int:
    """Operations of one featurizing: per entity a distance (2 multiply-adds and a root), the
    sort's comparisons, per kept entity one distance to every entity of each other group, and one
    comparison per entity for the count."""
    _keep, groups, nearest, _radius = layout
    sizes = [len(es) for _g, es in groups]
    total = 0
    for n in sizes:
        kept = min(nearest, n)
        others = sum(sizes) - n
        total += 3 * n + n * (n - 1) // 2 + kept * 3 * others + n
    return total


def _entity(e: Sequence[int]) -> list[int]:
    if len(e) not in (2, 3):
        raise DataError(f"an entity is [x column, y column] or [x, y, presence column]; got {list(e)}")
    return [int(e[0]), int(e[1]), int(e[2]) if len(e) == 3 else -1]


def _matrix(X: Any) -> np.ndarray:
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"the entity featurizer takes numeric states [n, d]; could not convert: {e}") from None
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or not np.isfinite(A).all():
        raise DataError(f"the entity featurizer takes finite numeric states [n, d]; got shape {A.shape} or NaN/inf")
    return A


def _median_distance(X: np.ndarray, groups: Mapping[str, list[list[int]]]) -> float:
    d = []
    for es in groups.values():
        for x, y, p in es:
            present = np.ones(len(X), bool) if p < 0 else X[:, p] > 0.5
            d.append(np.hypot(X[present, x], X[present, y]))
    flat = np.concatenate(d) if d else np.zeros(0)
    return float(np.median(flat)) if len(flat) else 1.0


def _names(layout: Sequence[Any], names: Sequence[str]) -> list[str]:
    keep, groups, nearest, _radius = layout
    out = [names[c] if c < len(names) else f"x{c}" for c in keep]
    group_names = [g for g, _ in groups]
    for g, entities in groups:
        for k in range(1, min(nearest, len(entities)) + 1):
            out += [f"{g}_near{k}_dx", f"{g}_near{k}_dy", f"{g}_near{k}_dist"]
            out += [f"{g}_near{k}_margin_vs_{h}" for h in group_names if h != g]
        out.append(f"{g}_within_radius")
    return out


__all__ = ["EntityFeaturizer", "infer_entity_groups", "layout_ops"]
