"""Cascade metrics: a cheap student decides where it is confident and hands the rest to the teacher.

Given, per state, the teacher's action, the student's action and the student's confidence (the
probability it gives its own choice), a threshold ``t`` splits the states into *decided*
(confidence ≥ t) and *deferred*. The figures, in the field's words (FrugalGPT, RouteLLM):

- coverage: share decided without the teacher (= share of teacher calls saved);
- agreement on the decided share: top-1 agreement with the teacher where the student decides;
- overall agreement: with the teacher answering the deferred states (it agrees with itself).

:func:`choose_threshold` picks the lowest threshold (most coverage) whose decided agreement,
discounted for the number of states it rests on (Wilson lower bound, z = 1), reaches a target.
Choose it on calibration rows and report :func:`cascade_score` on other rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hybrid.errors import DataError

WILSON_Z = 1.0


@dataclass(frozen=True)
class CascadeScore:
    """A cascade's figures at one threshold on one set of states."""

    threshold: float | None
    n: int
    coverage: float
    agreement_decided: float | None  # None when nothing is decided
    agreement_overall: float
    teacher_calls_saved: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _arrays(teacher: Any, student: Any, confidence: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, s, c = (np.asarray(a).reshape(-1) for a in (teacher, student, confidence))
    if not len(t) == len(s) == len(c) or len(t) == 0:
        raise DataError(f"teacher actions, student actions and confidences must be non-empty and aligned; got {len(t)}, {len(s)}, {len(c)}")
    return t.astype(np.int64), s.astype(np.int64), c.astype(np.float64)


def cascade_score(teacher: Any, student: Any, confidence: Any, threshold: float | None) -> CascadeScore:
    """Coverage and agreements when the student decides where ``confidence ≥ threshold``
    (``None``: it decides everywhere)."""
    t, s, c = _arrays(teacher, student, confidence)
    decided = np.ones(len(t), dtype=bool) if threshold is None else c >= threshold
    agree = t == s
    n_dec = int(decided.sum())
    return CascadeScore(
        threshold=None if threshold is None else float(threshold),
        n=len(t),
        coverage=n_dec / len(t),
        agreement_decided=float(agree[decided].mean()) if n_dec else None,
        agreement_overall=float((agree | ~decided).mean()),
        teacher_calls_saved=n_dec,
    )


def wilson_lower(agreements: np.ndarray, n: np.ndarray, z: float = WILSON_Z) -> np.ndarray:
    """Wilson score lower bound of a share ``agreements / n`` (elementwise, ``n > 0``)."""
    p = agreements / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def coverage_curve(teacher: Any, student: Any, confidence: Any, *, max_points: int = 50) -> list[dict[str, float]]:
    """(threshold, coverage, agreement on the decided share) from deciding everything down to
    deciding only the most confident states; at most ``max_points`` evenly spaced in coverage."""
    t, s, c = _arrays(teacher, student, confidence)
    order = np.argsort(-c, kind="stable")
    agree = np.cumsum(t[order] == s[order])
    n = np.arange(1, len(t) + 1)
    last = np.r_[c[order][1:] != c[order][:-1], True]  # only cut between distinct confidences
    idx = np.flatnonzero(last)
    if len(idx) > max_points:
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, max_points).round().astype(int))]
    return [{"threshold": float(c[order][i]), "coverage": float(n[i] / len(t)), "agreement": float(agree[i] / n[i])} for i in idx]


def choose_threshold(teacher: Any, student: Any, confidence: Any, agreement_at_least: float) -> float | None:
    """The lowest confidence threshold whose decided states agree with the teacher at
    ≥ ``agreement_at_least`` by the Wilson lower bound; ``None`` when no threshold does."""
    if not 0.0 < agreement_at_least <= 1.0:
        raise DataError(f"agreement_at_least is a share in (0, 1]; got {agreement_at_least!r}")
    t, s, c = _arrays(teacher, student, confidence)
    order = np.argsort(-c, kind="stable")
    agree = np.cumsum(t[order] == s[order]).astype(np.float64)
    n = np.arange(1, len(t) + 1, dtype=np.float64)
    cut = np.r_[c[order][1:] != c[order][:-1], True]
    ok = (wilson_lower(agree, n) >= agreement_at_least - 1e-12) & cut
    if not ok.any():
        return None
    return float(c[order][np.flatnonzero(ok)[-1]])


def calibration_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Halves of ``n`` held-out rows: one to choose thresholds on, one to report on (seeded)."""
    if n < 4:
        raise DataError(f"a cascade needs at least 4 held-out states to choose and report on different rows; got {n}")
    order = np.random.default_rng(seed).permutation(n)
    half = math.ceil(n / 2)
    return np.sort(order[:half]), np.sort(order[half:])
