"""Anytime-valid bounds on a mean: claims that stay true however often they are looked at.

A retention claim rests on the mean paired return difference ``D_i = S_i − T_i`` of a student and
its teacher on the same seeded episodes. Recomputing a Student-t interval at every look (and
stopping when it clears the bar) is not valid: each look is another chance of a false pass, and
identical differences give an interval of width zero. A *confidence sequence* is: with
probability ``confidence`` it contains the true mean at every episode count at once, so the
search may stop the moment it clears (or fails) the bar.

The one here is the betting confidence sequence of Waudby-Smith & Ramdas ("Estimating means of
bounded random variables by betting", JRSS-B 2024, with predictable plug-in bets, Theorem 3 and
Remark 3), one-sided at each end: for each candidate mean ``m`` one gambler bets that the mean
is above it and ``m`` falls out of the lower side once its wealth reaches ``1 / α`` (Ville's
inequality); another does the same for the upper side. Each bound holds with probability
``confidence`` at every episode count at once — a claim of a lower bound uses the lower one
alone — and each is the running intersection of what was never rejected. It needs the
variables' range: a difference of returns lies within ``±(max return − min return)``, taken from
the environment's reward bounds and horizon where known, else declared, else observed
(``ReturnRange.source``).

``unseen_failure`` is the rare-failure side of the same claim: after ``n`` episodes without a
failure, a failure mode of frequency ``≥ 1 − (1 − confidence)^(1/n)`` would have shown itself
with probability ``confidence`` — the frequency the episodes behind a claim exclude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METHOD = "betting confidence sequence (Waudby-Smith & Ramdas 2024), anytime-valid, one-sided at each end"
_GRID = 4001  # candidate means on [0, 1]: resolution 2.5e-4 of the range
OBSERVED_MARGIN = 0.25  # an observed range: the span seen, widened by this share of it on each side
_BET_CAP = 0.9  # c in λ ≤ c / m: a bet never risks more than 90% of the wealth


@dataclass(frozen=True)
class MeanBound:
    """A confidence-sequence bound on a mean after ``n`` observations in ``[lo, hi]``: ``low``
    and ``high`` each hold with probability ``confidence`` at every ``n`` at once."""

    n: int
    mean: float
    low: float
    high: float
    confidence: float
    method: str = METHOD


def _predictable_bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """λ_i from the observations before i: sqrt(2 log(1/α) / (σ̂²_{i−1} i log(1 + i)))."""
    n = len(x)
    i = np.arange(1, n + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(x)) / (i + 1)  # μ̂_i
    var = (0.25 + np.cumsum((x - mu) ** 2)) / (i + 1)  # σ̂²_i
    prev_var = np.concatenate([[0.25], var[:-1]])
    return np.sqrt(2.0 * math.log(1.0 / alpha) / (prev_var * i * np.log1p(i)))


def mean_bound(values: np.ndarray, lo: float, hi: float, confidence: float = 0.95) -> MeanBound:
    """The confidence sequence of the mean of ``values`` (each in ``[lo, hi]``) at its last time."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not hi > lo:
        raise ValueError(f"the range needs hi > lo; got [{lo}, {hi}]")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    if len(v) == 0:
        return MeanBound(0, float("nan"), lo, hi, confidence)
    if (v < lo - 1e-9 * (hi - lo)).any() or (v > hi + 1e-9 * (hi - lo)).any():
        raise ValueError(f"values outside the declared range [{lo}, {hi}]: [{v.min()}, {v.max()}]")
    alpha = 1.0 - confidence
    x = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    bets = _predictable_bets(x, alpha)[:, None]
    m = np.linspace(0.0, 1.0, _GRID)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.minimum(bets, _BET_CAP / np.maximum(m, 1e-12))
        down = np.minimum(bets, _BET_CAP / np.maximum(1.0 - m, 1e-12))
        log_up = np.cumsum(np.log1p(up * (x[:, None] - m)), axis=0)
        log_down = np.cumsum(np.log1p(-down * (x[:, None] - m)), axis=0)
    # m leaves the lower side once the gambler betting on a mean above it has 1/α (the upper side: below it)
    threshold = math.log(1.0 / alpha)
    out_low = (log_up >= threshold).any(axis=0)
    out_high = (log_down >= threshold).any(axis=0)
    step = 1.0 / (_GRID - 1)
    kept_low, kept_high = np.flatnonzero(~out_low), np.flatnonzero(~out_high)
    centre = float(np.clip(x.mean(), 0.0, 1.0))  # every grid point out: the mean lies between two of them
    low_x = max(0.0, kept_low[0] * step - step) if len(kept_low) else centre
    high_x = min(1.0, kept_high[-1] * step + step) if len(kept_high) else centre
    scale = hi - lo
    return MeanBound(len(v), float(v.mean()), lo + low_x * scale, lo + high_x * scale, confidence)


def unseen_failure(episodes: int, confidence: float = 0.95) -> float:
    """The smallest per-episode failure frequency that ``episodes`` clean episodes would have
    revealed with probability ``confidence`` (1.0 with no episodes)."""
    if episodes <= 0:
        return 1.0
    return 1.0 - (1.0 - confidence) ** (1.0 / episodes)


def episodes_to_see(frequency: float, confidence: float = 0.95) -> int:
    """Episodes needed so that a failure of ``frequency`` shows at least once with ``confidence``."""
    if not 0.0 < frequency < 1.0:
        raise ValueError(f"frequency must lie in (0, 1); got {frequency}")
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - frequency))


@dataclass(frozen=True)
class ReturnRange:
    """Where one episode's return can lie, and how that is known: ``"environment"`` (per-step
    reward bounds × the time limit), ``"declared"`` (given by the user) or ``"observed"`` (the
    teacher's and a random policy's first returns, widened by a quarter of their span on each side
    — a working assumption, not a guarantee; ``exceeded`` records a return that fell outside it)."""

    low: float
    high: float
    source: str
    exceeded: bool = False

    @property
    def span(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict[str, object]:
        return {"low": self.low, "high": self.high, "source": self.source, "exceeded": self.exceeded}


def observed_range(returns: np.ndarray) -> ReturnRange:
    """A range around the returns seen so far (the teacher's and a random policy's): a quarter of
    their span added on each side — a random policy already fails, so its returns reach near the
    bottom of what a failing student gets."""
    r = np.asarray(returns, dtype=np.float64)
    lo, hi = float(r.min()), float(r.max())
    span = max(hi - lo, 1e-9 * max(1.0, abs(hi)), 1.0 if hi == lo else 0.0)
    return ReturnRange(lo - OBSERVED_MARGIN * span, hi + OBSERVED_MARGIN * span, "observed")


def difference_bound(differences: np.ndarray, value_range: ReturnRange, confidence: float) -> MeanBound:
    """Anytime-valid bound on the mean paired difference of two returns in ``value_range``
    (a difference lies within ± its span); differences beyond it are clipped (the range was wrong,
    and ``value_range.exceeded`` should say so)."""
    span = value_range.span
    d = np.clip(np.asarray(differences, dtype=np.float64), -span, span)
    return mean_bound(d, -span, span, confidence)
