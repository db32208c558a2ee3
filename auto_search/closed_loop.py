"""Closed-loop scores with confidence: paired, sequential episodes against the teacher.

Held-out fidelity is measured on the teacher's states; in the loop a student meets its own, and
where episodes differ from one another (wind, traffic, sensor noise) a few of them rate a
student by luck. So every student is scored on the *same* seeded episodes as the teacher
(common random numbers): retention is estimated from the paired return differences
``D_i = S_i − T_i`` as ``1 + mean(D) / (mean(T) − mean(R))`` (``R``: a uniformly random policy on
the same episodes), with a Student-t confidence interval on ``mean(D)``. A student gets more
episodes — the count doubles, up to a cap — while its interval straddles the bar; clear passes
and clear failures stop early. The scale ``mean(T) − mean(R)`` is taken as known, so the interval
covers the paired-difference noise, which dominates near a retention of 1.

Three disjoint streams of episode seeds keep choosing and reporting apart: *selection*
(``seed``) scores the Pareto front and DAgger's iterates; DAgger collects states on its own
seeds; *confirmation* re-measures the shipped student on fresh episodes, so the figures printed
for it were not used to choose it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.envs.adapter import episode_seeds
from hybrid.loop.paired import paired_interval, retention  # the statistics live below both packages
from hybrid.loop.runners import episode_runner
from hybrid.spaces import action_space_of

__all__ = ["CONFIRMATION_SEED_OFFSET", "LoopScore", "PairedEpisodes", "paired_interval", "retention", "visited_fidelity"]

CONFIRMATION_SEED_OFFSET = 7919  # confirmation episodes: a seed stream never used to choose


@dataclass(frozen=True)
class LoopScore:
    """A student's closed-loop figures on ``episodes`` paired episodes."""

    episodes: int
    return_mean: float
    retention: float
    retention_low: float
    retention_high: float
    visited_fidelity: float | None

    def as_fields(self) -> dict[str, Any]:
        """The candidate fields these scores fill."""
        return {
            "loop_episodes": self.episodes,
            "return_mean": self.return_mean,
            "retention": self.retention,
            "retention_low": self.retention_low,
            "retention_high": self.retention_high,
            "visited_fidelity": self.visited_fidelity,
        }


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

    def __init__(self, env: Any, teacher: Any, *, seed: int, first: int, cap: int, confidence: float, deadline: float | None = None) -> None:
        self.runner = episode_runner(env, teacher)
        self.teacher = teacher
        self.first, self.cap, self.confidence, self.deadline = first, max(first, cap), confidence, deadline
        self.seeds = episode_seeds(seed, self.cap)
        self._teacher: list[float] = []
        self._random: list[float] = []
        self.cut = False
        self.episodes_run = 0  # every episode rolled out here: teacher, random and students

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

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def score(self, student: Any, bar: float | None = None, *, to_cap: bool = False) -> LoopScore:
        """Roll ``student`` out on the shared episodes: ``first`` of them, then twice as many
        while the interval contains ``bar`` (or always ``first`` when ``bar`` is None). With
        ``to_cap`` the count doubles up to the cap whatever the interval says (the deadline
        still stops it): a figure to report rather than a choice to make early."""
        returns: list[float] = []
        states: list[Any] = []
        n = self.first
        while True:
            self._baselines(n)
            more, seen = self._returns(student, self.seeds[len(returns) : n])
            returns += more
            states += seen
            centre, low, high = paired_interval(np.array(returns), np.array(self._teacher[:n]), np.array(self._random[:n]), self.confidence)
            if n >= self.cap or (not to_cap and (bar is None or not low < bar <= high)):
                break
            if self._out_of_time():
                self.cut = True
                break
            n = min(2 * n, self.cap)
        agreement = self.runner.agreement(student, states)
        return LoopScore(n, float(np.mean(returns)), centre, low, high, agreement)

    def summary(self) -> dict[str, Any]:
        """Baselines and settings for the report."""
        return {
            "episodes_first": self.first,
            "episodes_cap": self.cap,
            "confidence": self.confidence,
            "teacher_return": self.teacher_return,
            "random_return": self.random_return,
            "baseline_episodes": len(self._teacher),
        }
