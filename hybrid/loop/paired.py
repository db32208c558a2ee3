"""Paired-episode statistics shared by the search's closed loop and the fine-tuning steps.

Two policies run on the *same* seeded episodes (common random numbers) differ by per-episode
return differences ``D_i``; a bound on their mean is far tighter than one built from the spread
of returns. The bounds are anytime-valid confidence sequences (``hybrid.loop.bounds``), so
looking again after more episodes never inflates the chance of a false claim.
``auto_search.closed_loop`` scores retention with them, and ``hybrid.loop.finetune`` accepts a
changed leaf only when the gain clears its bound. They live here, below both, because ``hybrid``
must not import ``auto_search``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hybrid.errors import DataError
from hybrid.loop.bounds import METHOD, ReturnRange, difference_bound, observed_range


def retention(student_return: float, teacher_return: float, random_return: float) -> float:
    """(student − random) / (teacher − random); 1.0 when teacher and random tie."""
    gap = teacher_return - random_return
    return 1.0 if abs(gap) < 1e-12 else (student_return - random_return) / gap


@dataclass(frozen=True)
class RetentionBound:
    """Retention and its anytime-valid bound from paired per-episode returns (see ``hybrid.loop.bounds``)."""

    episodes: int
    retention: float
    low: float
    high: float
    confidence: float
    method: str


def retention_bound(student: np.ndarray, teacher: np.ndarray, random: np.ndarray, value_range: ReturnRange, confidence: float) -> RetentionBound:
    """Retention ``1 + mean(D) / (mean(T) − mean(R))`` of paired returns and the bound of the
    confidence sequence of ``mean(D)`` mapped through it (the scale ``mean(T) − mean(R)`` is
    taken as known: it is the baselines' mean over every episode run so far). Valid at every
    episode count at once, so a search may stop the moment it clears or fails a bar; identical
    differences on few episodes still leave a wide bound (the range, not the spread, sets it)."""
    n = len(student)
    gap = float(np.mean(teacher) - np.mean(random))
    if abs(gap) < 1e-12:
        return RetentionBound(n, 1.0, 1.0, 1.0, confidence, METHOD)
    diff = np.asarray(student, dtype=np.float64) - np.asarray(teacher, dtype=np.float64)
    centre = 1.0 + float(np.mean(diff)) / gap
    b = difference_bound(diff, value_range, confidence)
    low, high = sorted((1.0 + b.low / gap, 1.0 + b.high / gap))
    return RetentionBound(n, centre, float(low), float(high), confidence, METHOD)


@dataclass(frozen=True)
class PairedGain:
    """Mean return difference ``new − old`` on paired episodes and its anytime-valid bound."""

    episodes: int
    mean: float
    low: float
    high: float
    method: str = METHOD

    @property
    def significant(self) -> bool:
        """True when the whole bound lies above 0: a gain beyond episode-to-episode noise."""
        return self.low > 0.0


def paired_gain(new: np.ndarray, old: np.ndarray, confidence: float = 0.95, value_range: ReturnRange | None = None) -> PairedGain:
    """How much ``new`` returns beat ``old`` on the same episodes, with the confidence sequence of
    the differences; ``value_range`` bounds one return (default: observed around both sets)."""
    new_r, old_r = np.asarray(new, dtype=np.float64), np.asarray(old, dtype=np.float64)
    if new_r.ndim != 1 or new_r.shape != old_r.shape or len(new_r) == 0:
        raise DataError(f"paired returns must be two equal-length 1-D arrays; got shapes {np.shape(new)} and {np.shape(old)}")
    value_range = value_range or observed_range(np.concatenate([new_r, old_r]))
    b = difference_bound(new_r - old_r, value_range, confidence)
    return PairedGain(len(new_r), float(b.mean), float(b.low), float(b.high))
