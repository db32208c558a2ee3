"""Closed-loop scores with confidence: paired, sequential episodes against the teacher.

Held-out fidelity is measured on the teacher's states; in the loop a student meets its own, and
where episodes differ from one another (wind, traffic, sensor noise) a few of them rate a
student by luck. So every student is scored on the *same* seeded episodes as the teacher
(common random numbers): retention is estimated from the paired return differences
``D_i = S_i − T_i`` as ``1 + mean(D) / (mean(T) − mean(R))`` (``R``: a uniformly random policy on
the same episodes), with an anytime-valid confidence sequence on ``mean(D)``
(``hybrid.loop.bounds``: it holds at every episode count at once, so stopping when it clears or
fails the bar keeps its coverage, and identical differences on a few episodes are never a pass).
It needs the range of a return: the environment's per-step reward bounds × its time limit where
known, else a declared range, else one observed around the first baseline episodes (said in the
report). A student gets more episodes — the count doubles, up to a cap — until its bound clears
the bar (with at least ``min_episodes``, enough to have seen a failure of the declared frequency)
or falls below it. The scale ``mean(T) − mean(R)`` is taken as known, so the bound covers the
paired-difference noise, which dominates near a retention of 1.

Three disjoint streams of episode seeds keep choosing and reporting apart: *selection*
(``seed``) scores the Pareto front and DAgger's iterates; DAgger collects states on its own
seeds; *confirmation* re-measures the shipped student on fresh episodes, so the figures printed
for it were not used to choose it. Only a confirmation makes a claim, so the selection may
*screen* (``screen_episodes``): it stops a student once the normal approximation of its paired
differences (``screen_bounds``, tight where episodes agree) clears the bar on that many episodes
or falls below it, and leaves the budget to the confirmation, whose anytime-valid bound needs
hundreds of episodes to show a 1% margin on a return's whole range.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from auto_search.policies import SCREEN_EPISODES
from hybrid.envs.adapter import episode_seeds, return_bounds
from hybrid.loop.bounds import ReturnRange, observed_range, unseen_failure
from hybrid.loop.paired import retention, retention_bound  # the statistics live below both packages
from hybrid.loop.runners import episode_runner
from hybrid.spaces import action_space_of

__all__ = ["CONFIRMATION_SEED_OFFSET", "LoopScore", "PairedEpisodes", "retention", "retention_bound", "visited_fidelity"]

CONFIRMATION_SEED_OFFSET = 7919  # confirmation episodes: a seed stream never used to choose
LOOK_EVERY = 32  # a confirmation looks at its bound after every this many episodes (one lockstep batch)


@dataclass(frozen=True)
class LoopScore:
    """A student's closed-loop figures on ``episodes`` paired episodes."""

    episodes: int
    return_mean: float
    retention: float
    retention_low: float
    retention_high: float
    visited_fidelity: float | None
    confidence: float = 0.95
    method: str = ""
    return_range: dict[str, Any] | None = None  # ReturnRange.to_dict(): where a return lies and how that is known
    failures_excluded: float = 1.0  # the failure frequency these episodes would have shown (hybrid.loop.bounds.unseen_failure)
    screen_low: float | None = None  # the normal approximation's bounds (screen_bounds): they screen and rank, never claim
    screen_high: float | None = None

    def claim(self, bar: float, min_episodes: int) -> dict[str, Any]:
        """Whether these episodes show retention ≥ ``bar``: the lower bound clears it on at least
        ``min_episodes`` episodes (enough to have seen a rare failure), with the evidence."""
        return {
            "bar": bar,
            "bound_met": bool(self.retention_low >= bar and self.episodes >= min_episodes),
            "retention": self.retention,
            "low": self.retention_low,
            "high": self.retention_high,
            "episodes": self.episodes,
            "min_episodes": min_episodes,
            "confidence": self.confidence,
            "method": self.method,
            "return_range": self.return_range,
            "failures_excluded": self.failures_excluded,
        }

    def as_fields(self) -> dict[str, Any]:
        """The candidate fields these scores fill."""
        return {
            "loop_episodes": self.episodes,
            "return_mean": self.return_mean,
            "retention": self.retention,
            "retention_low": self.retention_low,
            "retention_high": self.retention_high,
            "retention_screen": self.screen_low,
            "visited_fidelity": self.visited_fidelity,
        }


def claim_verdict(claim: dict[str, Any]) -> str:
    """A retention claim (``LoopScore.claim``) in one line: ``MET`` or ``MISSED``, the bar, the
    confirmed figure with its bound, episodes, method and return range, and the failure frequency
    the episodes rule out (or, when too few, how many would be needed)."""
    r = claim.get("return_range") or {}
    where = f"[{r['low']:g}, {r['high']:g}], {r['source']}" + (", exceeded by a return" if r.get("exceeded") else "") if r else "unknown"
    figure = (
        f"retention {100 * claim['retention']:.1f}%, {100 * claim['confidence']:.1f}% bound [{100 * claim['low']:.1f}, {100 * claim['high']:.1f}] "
        f"over {claim['episodes']} fresh episodes ({claim['method']}; return range {where})"
    )
    bar = f"retention ≥ {100 * claim['bar']:g}%"
    if claim["bound_met"]:
        return f"MET {bar}: {figure}; no failure in ≥ {100 * claim['failures_excluded']:.1f}% of episodes went unseen"
    short = (
        f"; {claim['episodes']} episodes cannot rule out a failure in {100 * claim['failures_excluded']:.1f}% of them ({claim['min_episodes']} would)"
        if claim["episodes"] < claim["min_episodes"]
        else ""
    )
    return f"MISSED {bar}: {figure}{short}"


def screen_bounds(student: np.ndarray, teacher: np.ndarray, random: np.ndarray, confidence: float) -> tuple[float, float]:
    """Retention's bounds by the normal approximation of the mean paired difference
    (``mean ∓ z·sd/√n``, each one-sided at ``confidence``): tight where episodes agree, so they
    screen which student to confirm and rank students when none can show a bar — but identical
    differences give them no width and each look is another chance to pass by luck, so they are
    never a claim (claims rest on ``retention_bound``, on fresh episodes)."""
    n = len(student)
    gap = float(np.mean(teacher) - np.mean(random))
    if n < 2:
        return float("-inf"), float("inf")
    if abs(gap) < 1e-12:
        return 1.0, 1.0
    diff = np.asarray(student, dtype=np.float64) - np.asarray(teacher, dtype=np.float64)
    centre, half = float(np.mean(diff)), float(NormalDist().inv_cdf(confidence)) * float(np.std(diff, ddof=1)) / np.sqrt(n)
    return float(1.0 + (centre - half) / gap), float(1.0 + (centre + half) / gap)


def visited_fidelity(action_space: Any, student: np.ndarray, teacher: np.ndarray) -> float:
    """Agreement with the teacher on visited states, as the action space measures it: top-1
    agreement for discrete actions, the share of states within ``hybrid.metrics.DEFAULT_TOLERANCE``
    of each dimension's range (as held-out fidelity) for a ``Box``."""
    return float(action_space_of(action_space).fidelity(teacher, student))


class PairedEpisodes:
    """Seeded episodes shared by the teacher, a random policy and every student scored on them.

    The teacher's and the random policy's returns are computed once per episode and reused, so
    scoring a student costs only its own episodes. ``deadline`` (``time.monotonic()``) stops
    adding episodes; the scores then rest on the episodes run so far, and ``cut`` says so. In a
    team environment the return is the team's (``hybrid.loop.runners.TeamRunner``): the student
    plays the agents the ``TeamEnv`` controls and the team teacher the others.
    """

    def __init__(
        self,
        env: Any,
        teacher: Any,
        *,
        seed: int,
        first: int,
        cap: int,
        confidence: float,
        deadline: float | None = None,
        return_range: tuple[float, float] | None = None,
        min_episodes: int = 0,
        screen_episodes: int | None = None,
    ) -> None:
        self.runner = episode_runner(env, teacher)
        self.teacher = teacher
        self.first, self.cap, self.confidence, self.deadline = first, max(first, cap), confidence, deadline
        self.min_episodes, self.screen_episodes = min_episodes, screen_episodes
        self.seeds = episode_seeds(seed, self.cap)
        self._teacher: list[float] = []
        self._random: list[float] = []
        self.cut = False
        self._per_episode = 0.0  # seconds per paired episode in the last batch (student and any new baselines)
        self.episodes_run = 0  # every episode rolled out here: teacher, random and students
        self._runs: dict[Any, tuple[list[float], list[Any]]] = {}  # per student: the returns and states it ran, to continue from
        known = return_range if return_range is not None else return_bounds(env)
        source = "declared" if return_range is not None else "environment"
        self._range: ReturnRange | None = None if known is None else ReturnRange(float(known[0]), float(known[1]), source)

    def value_range(self) -> ReturnRange:
        """The range of one return the bounds rely on (observed around the first baselines when
        neither the environment nor the user gave one), marked ``exceeded`` if a return fell outside."""
        if self._range is None:
            self._range = observed_range(np.array(self._teacher + self._random))
        return self._range

    def _note(self, returns: list[float]) -> None:
        r = self.value_range()
        if not r.exceeded and returns and (min(returns) < r.low or max(returns) > r.high):
            self._range = ReturnRange(r.low, r.high, r.source, exceeded=True)

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> PairedEpisodes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _returns(self, policy: Any, seeds: list[int]) -> tuple[list[float], list[Any]]:
        returns, states = self.runner.returns(policy, seeds)
        self.episodes_run += len(seeds)
        return returns, states

    def _baselines(self, n: int) -> None:
        if len(self._teacher) < n:
            more, _ = self._returns(self.runner.teacher, self.seeds[len(self._teacher) : n])  # as the runner adapted it
            self._teacher += more
        while len(self._random) < n:
            self._random.append(self.runner.random_return(self.seeds[len(self._random)]))
            self.episodes_run += 1

    @property
    def teacher_return(self) -> float:
        return float(np.mean(self._teacher)) if self._teacher else float("nan")

    @property
    def random_return(self) -> float:
        return float(np.mean(self._random)) if self._random else float("nan")

    def score(self, student: Any, bar: float | None = None, *, to_cap: bool = False, upto: int | None = None) -> LoopScore:
        """Roll ``student`` out on the shared episodes: ``first`` of them, then twice as many
        until they decide the ``bar`` (``_passes`` or ``_fails``) or the cap, ``upto`` or the
        deadline comes; without a bar, ``first`` episodes (``to_cap``: up to the cap, a figure to
        report). A student scored again continues from the episodes it already ran."""
        key = getattr(student, "content_hash", None) or id(student)  # the same policy meets the same episodes
        returns, states = self._runs.setdefault(key, ([], []))
        limit = min(self.cap, upto or self.cap)
        n = min(max(self.first, len(returns)), limit)
        while True:
            started, ran = time.monotonic(), n - len(returns)
            self._baselines(n)
            more, seen = self._returns(student, self.seeds[len(returns) : n])
            returns += more
            states += seen
            if ran > 0:
                self._per_episode = (time.monotonic() - started) / ran
            self._note(self._teacher[:n] + self._random[:n] + returns)
            paired = np.array(returns[:n]), np.array(self._teacher[:n]), np.array(self._random[:n])
            b = retention_bound(*paired, self.value_range(), self.confidence)
            screen = screen_bounds(*paired, self.confidence)
            decided = bar is not None and (self._fails(b.high, screen, n, bar) or self._passes(b.low, screen, n, bar))
            if n >= limit or decided or (bar is None and not to_cap):
                break
            more_n = self._more(n, limit)
            if more_n == 0:
                self.cut = True
                break
            n += more_n
        agreement = self.runner.agreement(student, states[:n])
        return LoopScore(
            n,
            float(np.mean(returns)),
            b.retention,
            b.low,
            b.high,
            agreement,
            confidence=self.confidence,
            method=b.method,
            return_range=self.value_range().to_dict(),
            failures_excluded=unseen_failure(n, self.confidence),
            screen_low=screen[0],
            screen_high=screen[1],
        )

    def _more(self, n: int, limit: int) -> int:
        """How many episodes to add after ``n``: twice as many when screening (rounds of equal
        evidence), else ``LOOK_EVERY`` (an anytime-valid bound may be looked at after every
        episode) — no more than fit before the deadline at the last batch's seconds per episode."""
        step = min(limit - n, n if self.screen_episodes is not None else max(self.first, LOOK_EVERY))
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            step = min(step, int(left / self._per_episode) if self._per_episode > 0 else step) if left > 0 else 0
        return max(0, step)

    def _passes(self, low: float, screen: tuple[float, float], n: int, bar: float) -> bool:
        """Whether ``n`` episodes pass a student: when screening, its screen clears ``bar`` on
        ``screen_episodes``; otherwise its anytime-valid lower bound clears it on at least
        ``min_episodes`` (a claim)."""
        if self.screen_episodes is not None:
            return screen[0] >= bar and n >= self.screen_episodes
        return low >= bar and n >= self.min_episodes

    def _fails(self, high: float, screen: tuple[float, float], n: int, bar: float) -> bool:
        """Whether ``n`` episodes give a student up: its anytime-valid upper bound lies below
        ``bar``, or its screen's does (after ``SCREEN_EPISODES`` when confirming). Giving up makes
        no claim, so the screen may decide it and leave the budget to the next student."""
        return high < bar or (screen[1] < bar and (self.screen_episodes is not None or n >= SCREEN_EPISODES))

    def summary(self) -> dict[str, Any]:
        """Baselines and settings for the report."""
        return {
            "episodes_first": self.first,
            "episodes_cap": self.cap,
            "confidence": self.confidence,
            "min_episodes": self.min_episodes,
            "screen_episodes": self.screen_episodes,
            "return_range": self.value_range().to_dict() if self._teacher else None,
            "teacher_return": self.teacher_return,
            "random_return": self.random_return,
            "baseline_episodes": len(self._teacher),
        }
