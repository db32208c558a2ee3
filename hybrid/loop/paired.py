"""Paired-episode statistics shared by the search's closed loop and the fine-tuning steps.

Two policies run on the *same* seeded episodes (common random numbers) differ by per-episode
return differences ``D_i``; their Student-t interval is far tighter than one built from the
spread of returns. ``auto_search.closed_loop`` scores retention with it, and
``hybrid.loop.finetune`` accepts a changed leaf only when the gain clears the interval. It lives
here, below both, because ``hybrid`` must not import ``auto_search``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def retention(student_return: float, teacher_return: float, random_return: float) -> float:
    """(student − random) / (teacher − random); 1.0 when teacher and random tie."""
    gap = teacher_return - random_return
    return 1.0 if abs(gap) < 1e-12 else (student_return - random_return) / gap


def _half_width(diff: np.ndarray, confidence: float) -> float:
    from scipy.stats import t as student_t

    n = len(diff)
    if n < 2:
        return float("inf")
    return float(student_t.ppf(0.5 + confidence / 2, n - 1) * np.std(diff, ddof=1) / np.sqrt(n))


def paired_interval(student: np.ndarray, teacher: np.ndarray, random: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Retention and its two-sided ``confidence`` interval from paired per-episode returns."""
    n = len(student)
    gap = float(np.mean(teacher) - np.mean(random))
    if abs(gap) < 1e-12:
        return 1.0, 1.0, 1.0
    diff = np.asarray(student, dtype=np.float64) - np.asarray(teacher, dtype=np.float64)
    centre = 1.0 + float(np.mean(diff)) / gap
    if n < 2:
        return centre, -np.inf, np.inf
    half = _half_width(diff, confidence) / abs(gap)
    return centre, centre - half, centre + half


@dataclass(frozen=True)
class PairedGain:
    """Mean return difference ``new − old`` on paired episodes, its interval and standard error."""

    episodes: int
    mean: float
    low: float
    high: float
    stderr: float

    @property
    def significant(self) -> bool:
        """True when the whole interval lies above 0: a gain beyond episode-to-episode noise."""
        return self.low > 0.0


def paired_gain(new: np.ndarray, old: np.ndarray, confidence: float = 0.95) -> PairedGain:
    """How much ``new`` returns beat ``old`` on the same episodes, with a t-interval."""
    diff = np.asarray(new, dtype=np.float64) - np.asarray(old, dtype=np.float64)
    if diff.ndim != 1 or len(diff) == 0:
        from hybrid.errors import DataError

        raise DataError(f"paired returns must be two equal-length 1-D arrays; got shapes {np.shape(new)} and {np.shape(old)}")
    mean = float(diff.mean())
    half = _half_width(diff, confidence)
    stderr = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
    return PairedGain(len(diff), mean, mean - half, mean + half, stderr)
