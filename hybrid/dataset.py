"""``DistillDataset``: states, the teacher's probabilities there, optional weights, and names.

The dataset is immutable once built (its arrays are read-only copies), so its content hash is
computed once and stays true. The hash covers exactly the data a student learns from —
``X``, ``P``, ``weights`` (each through ``provenance.hashing.hash_array``: dtype, shape and
little-endian bytes) and the canonical JSON of ``action_names`` and ``feature_names`` — and
never ``meta`` (run ids, times, file names), so the same decisions hash the same whether they
came through the trajectory store, a JSONL file or an ``.npz``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import DataError
from provenance.hashing import hash_array, hash_json

PROBA_TOLERANCE = 1e-4
_FORMAT = 1


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, order="C", copy=True)
    a.setflags(write=False)
    return a


def check_names(names: Any, what: str) -> tuple[str, ...]:
    """Action or feature names as a tuple of unique strings, refusing a bare string."""
    if isinstance(names, str) or not isinstance(names, (Sequence, np.ndarray)):
        raise DataError(f"{what} must be a list of names; got {names!r}")
    out = tuple(str(n) for n in names)
    if len(set(out)) != len(out):
        raise DataError(f"{what} has duplicate names {list(out)}; every name must be unique")
    return out


class DistillDataset:
    """Teacher decisions ready for distillation: ``X`` float32 ``[n, d]``, ``P`` float32 ``[n, k]``.

    ``P`` rows are probabilities (finite, ≥ 0, summing to 1 within 1e-4); ``weights`` are
    optional per-state importances (finite, ≥ 0). ``meta`` is free-form provenance (JSON-able)
    that travels with the data but does not enter ``content_hash``.
    """

    def __init__(
        self,
        X: Any,
        P: Any,
        action_names: Sequence[str],
        feature_names: Sequence[str] | None = None,
        weights: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        try:
            X, P = _frozen(X), _frozen(P)
        except (TypeError, ValueError) as e:
            raise DataError(f"X and P must be numeric arrays; could not convert: {e}") from None
        self.action_names = check_names(action_names, "action_names")
        self.feature_names = None if feature_names is None else check_names(feature_names, "feature_names")
        if X.ndim != 2:
            raise DataError(f"X must be 2-D [n_states, n_features]; got shape {X.shape}")
        if P.shape != (X.shape[0], len(self.action_names)):
            raise DataError(
                f"P has shape {P.shape}; expected [{X.shape[0]}, {len(self.action_names)}] "
                "(one row per state of X, one column per action name)"
            )
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise DataError(f"feature_names has {len(self.feature_names)} names but X has {X.shape[1]} features")
        _check_finite(X, "X")
        check_probabilities(P)
        if weights is not None:
            weights = _frozen(weights)
            if weights.shape != (X.shape[0],):
                raise DataError(f"weights must have shape ({X.shape[0]},); got {weights.shape}")
            _check_finite(weights, "weights")
            if (weights < 0).any():
                raise DataError(f"weights has a negative value at row {int(np.argmax(weights < 0))}; weights must be ≥ 0")
        self.X, self.P, self.weights = X, P, weights
        self.meta: dict[str, Any] = dict(meta or {})
        self._hash: str | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return f"DistillDataset(n={len(self)}, features={self.n_features}, actions={list(self.action_names)})"

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def labels(self) -> np.ndarray:
        """The teacher's greedy action per state (argmax of ``P``), int64."""
        return np.argmax(self.P, axis=1)

    @property
    def content_hash(self) -> str:
        """``sha256:…`` over X, P, weights and the names; ``meta`` is left out on purpose."""
        if self._hash is None:
            self._hash = hash_json({
                "format": _FORMAT,
                "X": hash_array(self.X),
                "P": hash_array(self.P),
                "weights": None if self.weights is None else hash_array(self.weights),
                "action_names": list(self.action_names),
                "feature_names": None if self.feature_names is None else list(self.feature_names),
            })
        return self._hash

    def subset(self, indices: Any) -> "DistillDataset":
        """The rows at ``indices`` (integer positions or a boolean mask), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise DataError(f"a boolean mask must have shape ({len(self)},); got {idx.shape}")
            idx = np.flatnonzero(idx)
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise DataError(f"indices must be integers or a boolean mask; got dtype {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"indices out of range for a dataset of {len(self)} states")
        return DistillDataset(
            self.X[idx], self.P[idx], self.action_names, self.feature_names,
            None if self.weights is None else self.weights[idx], dict(self.meta),
        )

    def split(self, val_fraction: float = 0.2, seed: int | np.random.Generator = 0) -> tuple["DistillDataset", "DistillDataset"]:
        """Deterministic random train/validation split; each part keeps the original row order."""
        train, val = split_indices(len(self), val_fraction, seed)
        return self.subset(train), self.subset(val)

    @classmethod
    def concat(cls, datasets: Sequence["DistillDataset"]) -> "DistillDataset":
        """Stack datasets with the same names; missing weights count as 1 when any part has them."""
        if not datasets:
            raise DataError("concat needs at least one dataset")
        first = datasets[0]
        for i, d in enumerate(datasets[1:], start=1):
            if (d.action_names, d.feature_names, d.n_features) != (first.action_names, first.feature_names, first.n_features):
                raise DataError(
                    f"dataset {i} has actions {list(d.action_names)} and {d.n_features} features {d.feature_names}, dataset 0 "
                    f"has {list(first.action_names)} and {first.n_features} {first.feature_names}; only datasets with the same names stack"
                )
        weights = None
        if any(d.weights is not None for d in datasets):
            weights = np.concatenate([np.ones(len(d), np.float32) if d.weights is None else d.weights for d in datasets])
        return cls(
            np.concatenate([d.X for d in datasets]), np.concatenate([d.P for d in datasets]),
            first.action_names, first.feature_names, weights,
            {"concat_of": [d.content_hash for d in datasets]},
        )

    def with_weights(self, weights: Any) -> "DistillDataset":
        """The same states and probabilities with new per-state weights (``None`` drops them)."""
        return DistillDataset(self.X, self.P, self.action_names, self.feature_names, weights, dict(self.meta))

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (no pickled objects: names as unicode arrays, meta as JSON text)."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "format": np.array(_FORMAT), "X": self.X, "P": self.P,
            "action_names": np.array(self.action_names, dtype=np.str_),
            "meta": np.array(json.dumps(self.meta, sort_keys=True, default=str)),
        }
        if self.feature_names is not None:
            arrays["feature_names"] = np.array(self.feature_names, dtype=np.str_)
        if self.weights is not None:
            arrays["weights"] = self.weights
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DistillDataset":
        """Read a dataset written by ``save`` (``allow_pickle=False``)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                files = set(data.files)
                missing = {"X", "P", "action_names"} - files
                if missing:
                    raise DataError(f"{path} is not a DistillDataset file: it lacks {sorted(missing)}; write it with DistillDataset.save")
                return cls(
                    data["X"], data["P"], data["action_names"].tolist(),
                    data["feature_names"].tolist() if "feature_names" in files else None,
                    data["weights"] if "weights" in files else None,
                    json.loads(str(data["meta"])) if "meta" in files else None,
                )
        except (OSError, ValueError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"cannot read dataset {path}: {e}") from None


def split_indices(n: int, val_fraction: float, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) row positions of a seeded random split; shared by every dataset kind."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must lie strictly between 0 and 1; got {val_fraction}")
    if n < 2:
        raise DataError(f"cannot split {n} state(s); a split needs at least 2")
    n_val = min(max(int(round(n * val_fraction)), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _check_finite(a: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise DataError(f"{name} has NaN or infinity at row {int(where[0])}; drop or impute those states first")


def check_probabilities(P: np.ndarray) -> None:
    """Raise DataError unless P is finite, ≥ 0 and its rows sum to 1 within 1e-4."""
    _check_finite(P, "P")
    if (P < 0).any():
        raise DataError(f"P has a negative probability at row {int(np.argwhere(P < 0)[0][0])}; P must hold probabilities")
    sums = P.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0) > PROBA_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise DataError(f"P row {row} sums to {sums[row]:.6f}, not 1 (tolerance {PROBA_TOLERANCE}); normalise the teacher's probabilities")
