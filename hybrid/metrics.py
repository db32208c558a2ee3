"""How close a student is to its teacher: fidelity (top-1 agreement), KL, per-action agreement.

Every function takes probability tables ``[n, k]`` or action labels ``[n]`` for either side,
so it works on ``predict_proba`` output, ``predict`` output or logged decisions alike, and an
optional per-state weight (e.g. DAgger or VIPER weights).

Continuous actions ``[n, m]`` have their own pair: ``action_fidelity`` (share of states whose
every action dimension is within ``tolerance`` of the dimension's range of the teacher's, by
default ``DEFAULT_TOLERANCE`` = 5%) and ``normalised_mse`` (mean squared error per dimension
divided by the squared range). ``dataset_fidelity`` asks the dataset's action space which one applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import DataError

KL_CLIP = 1e-8  # student probabilities are clipped here so a confident zero does not give infinity
DEFAULT_TOLERANCE = 0.05  # continuous fidelity: an action within 5% of each dimension's range counts as agreeing


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


def _continuous_pair(teacher: Any, student: Any, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Teacher and student actions as float64 ``[n, m]`` and each dimension's range, checked."""
    t = np.asarray(teacher, dtype=np.float64)
    s = np.asarray(student, dtype=np.float64)
    t, s = (a[:, None] if a.ndim == 1 else a for a in (t, s))
    if t.ndim != 2 or t.shape != s.shape:
        raise DataError(f"teacher actions {t.shape} and student actions {s.shape} must both be [n, m]; score both on the same states.")
    _check_aligned(t, s)
    span = np.broadcast_to(np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64), (t.shape[1],))
    if not (np.isfinite(span).all() and (span > 0).all()):
        raise DataError(f"action bounds must be finite with high > low; got range {span.tolist()}.")
    if not (np.isfinite(t).all() and np.isfinite(s).all()):
        raise DataError("actions hold NaN or infinity; score finite actions only.")
    return t, s, span


def action_fidelity(teacher: Any, student: Any, low: Any, high: Any, *, tolerance: float = DEFAULT_TOLERANCE, weights: Any = None) -> float:
    """Share of states (weighted if ``weights``) where every action dimension of the student is
    within ``tolerance × (high - low)`` of the teacher's."""
    if not 0 < tolerance:
        raise DataError(f"tolerance must be > 0 (a share of each dimension's range); got {tolerance}.")
    t, s, span = _continuous_pair(teacher, student, low, high)
    close = (np.abs(t - s) <= tolerance * span).all(axis=1)
    return float(np.average(close, weights=_weights(weights, len(t))))


def normalised_mse(teacher: Any, student: Any, low: Any, high: Any, weights: Any = None) -> float:
    """Mean squared action error, each dimension divided by its squared range (0 = identical,
    1 = off by a whole range everywhere)."""
    t, s, span = _continuous_pair(teacher, student, low, high)
    per_state = (((t - s) / span) ** 2).mean(axis=1)
    return float(np.average(per_state, weights=_weights(weights, len(t))))


def dataset_fidelity(dataset: Any, student_output: Any, weights: Any = None) -> float:
    """Fidelity of ``student_output`` on ``dataset``'s states, as the dataset's action space
    measures it: top-1 agreement with ``P`` (discrete) or ``action_fidelity`` within the space's
    tolerance (continuous)."""
    return float(dataset.action_space.fidelity(dataset.P, student_output, weights))


def fidelity_by_agent(dataset: Any, student_output: Any) -> dict[str, float]:
    """Top-1 agreement per agent of a team dataset (rows keyed by ``dataset.agent_ids``), in
    first-seen agent order: a shared student can be faithful for one agent and not another."""
    if getattr(dataset, "agent_ids", None) is None:
        raise DataError("the dataset has no agent ids; per-agent fidelity needs team decisions (hybrid.loop.rollouts.team_collect)")
    s = to_labels(student_output, name="student")
    t = to_labels(dataset.P, name="teacher")
    _check_aligned(t, s)
    ids = dataset.agent_ids
    return {str(a): float(np.mean(t[ids == a] == s[ids == a])) for a in sorted(set(ids.tolist()))}
