"""The checks every boundary makes on states and teacher probabilities, with one tolerance.

Datasets, the trajectory store, file ingest, teachers and students each accept probabilities
from outside; they all ask this module what is wrong (if anything) and wrap the answer in their
own error with their own fix, so a row that one boundary accepts no other refuses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid.errors import DataError

# float32 softmax rows sum to 1 within ~1e-6 even over hundreds of actions; 1e-4 still refuses
# unnormalised scores, rounded logs (two decimals) and a dropped action
PROBA_TOLERANCE = 1e-4


def non_finite_at(a: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or infinity in ``a`` (row first), or None when all are finite."""
    bad = ~np.isfinite(a)
    return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else None


def probability_problem(P: np.ndarray) -> str | None:
    """What keeps the rows of ``P [n, k]`` from being probability distributions, naming the
    first offending row (``"row 3 sums to 0.950000, not 1 (tolerance 0.0001)"``), or None."""
    where = non_finite_at(P)
    if where is not None:
        return f"has NaN or infinity at row {where[0]}"
    if (P < 0).any():
        return f"has a negative probability at row {int(np.argwhere(P < 0)[0][0])}"
    sums = P.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0) > PROBA_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        return f"row {row} sums to {sums[row]:.6f}, not 1 (tolerance {PROBA_TOLERANCE})"
    return None


def row_sum_problem(row: Sequence[float]) -> str | None:
    """The same tolerance for one logged row of probabilities (already finite and ≥ 0)."""
    total = math.fsum(row)
    return None if abs(total - 1.0) <= PROBA_TOLERANCE else f"sum to {total:.6f}, not 1 (tolerance {PROBA_TOLERANCE})"


def teacher_states(X: Any, feature_names: Sequence[str] | None, identity: str, *, copy: bool) -> np.ndarray:
    """States a teacher is asked to label, as float32 ``[n, d]`` (one state ``[d]`` is one row):
    numeric, finite, as wide as the teacher's features. ``copy`` gives the teacher its own array
    (otherwise only a read-only input is copied: torch refuses read-only buffers)."""
    try:
        a = np.array(X, dtype=np.float32) if copy else np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DataError(f"states must be numeric [n, d]; could not convert: {e}") from None
    if not a.flags.writeable:
        a = a.copy()
    a = a[None, :] if a.ndim == 1 else a
    if a.ndim != 2:
        raise DataError(f"states must be 2-D [n_states, n_features]; got shape {a.shape}")
    where = non_finite_at(a)
    if where is not None:
        raise DataError(f"state {where[0]} holds NaN or infinity; a teacher can only label finite states")
    if feature_names is not None and a.shape[1] != len(feature_names):
        raise DataError(f"states have {a.shape[1]} features but teacher {identity!r} takes {len(feature_names)} ({', '.join(feature_names)})")
    return a
