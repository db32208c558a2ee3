"""How close a student is to its teacher: fidelity (top-1 agreement), KL, per-action agreement.

Every function takes probability tables ``[n, k]`` or action labels ``[n]`` for either side,
so it works on ``predict_proba`` output, ``predict`` output or logged decisions alike, and an
optional per-state weight (e.g. DAgger or VIPER weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import DataError

KL_CLIP = 1e-8  # student probabilities are clipped here so a confident zero does not give infinity


def to_labels(P: Any, *, name: str = "P") -> np.ndarray:
    """Action labels from probabilities ``[n, k]`` (argmax, first on ties) or labels ``[n]``."""
    a = np.asarray(P)
    if a.ndim == 2:
        return np.argmax(a, axis=1)
    if a.ndim == 1 and (np.issubdtype(a.dtype, np.integer) or np.all(a == np.round(a))):
        return a.astype(np.int64)
    raise DataError(f"{name} must be probabilities [n, k] or integer action labels [n]; got shape {a.shape}.")


def fidelity(teacher: Any, student: Any, weights: Any = None) -> float:
    """Share of states (weighted if ``weights``) where the student's top action is the teacher's."""
    t, s = to_labels(teacher, name="teacher"), to_labels(student, name="student")
    _check_aligned(t, s)
    return float(np.average(t == s, weights=_weights(weights, len(t))))


def kl(teacher: Any, student: Any, weights: Any = None) -> float:
    """Mean KL(teacher ‖ student) in nats; student probabilities clipped at ``KL_CLIP``.

    Labels are read as one-hot distributions (then KL is the student's cross-entropy).
    """
    widths = [np.shape(a)[1] for a in (teacher, student) if np.ndim(a) == 2]
    if len(set(widths)) > 1:
        raise DataError(f"teacher has {widths[0]} actions but student {widths[1]}; pass [n, k] tables over the same actions.")
    P, Q = _as_proba(teacher, "teacher", widths), _as_proba(student, "student", widths)
    _check_aligned(P, Q)
    if not widths and P.shape != Q.shape:  # labels on both sides: pad to the larger action count
        k = max(P.shape[1], Q.shape[1])
        P, Q = np.pad(P, ((0, 0), (0, k - P.shape[1]))), np.pad(Q, ((0, 0), (0, k - Q.shape[1])))
    Q = np.clip(Q, KL_CLIP, 1.0)
    terms = np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - np.log(Q)), 0.0).sum(axis=1)
    return float(np.average(terms, weights=_weights(weights, len(P))))


def agreement_by_action(teacher: Any, student: Any, n_actions: int | None = None) -> np.ndarray:
    """Per teacher action: share of its states where the student agrees (NaN if it never occurs).

    Shows where a student's errors sit, e.g. a tree that never fires a rare action.
    """
    t, s = to_labels(teacher, name="teacher"), to_labels(student, name="student")
    _check_aligned(t, s)
    k = n_actions if n_actions is not None else int(max(t.max(initial=-1), s.max(initial=-1))) + 1
    total = np.bincount(t, minlength=k).astype(np.float64)
    agree = np.bincount(t[t == s], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, agree / total, np.nan)


def _as_proba(P: Any, name: str, widths: list[int]) -> np.ndarray:
    if np.ndim(P) == 2:
        return np.asarray(P, dtype=np.float64)
    labels = to_labels(P, name=name)
    k = widths[0] if widths else int(labels.max(initial=0)) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise DataError(f"{name} labels must lie in [0, {k}); got range [{labels.min()}, {labels.max()}].")
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    return onehot


def _check_aligned(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise DataError(f"teacher has {len(a)} states but student {len(b)}; score both on the same states.")
    if len(a) == 0:
        raise DataError("no states to score; pass at least one held-out state.")


def _weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise DataError(f"weights must be {n} finite values ≥ 0, not all zero; got shape {w.shape}.")
    return w
