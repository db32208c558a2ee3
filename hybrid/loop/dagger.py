"""DAgger (Ross et al. 2011) with best-iterate selection, so it is never worse than cloning.

One procedure for one agent or a team and for either kind of action. Iterate 0 is plain
behaviour cloning: the student fitted on the teacher's own rollouts. Each later iterate rolls
out a mixture — at every step the teacher acts with probability ``beta_i``, the latest student
otherwise (in a team: per controlled agent, partners always by the teacher) — lets the teacher
label every visited state (a team teacher from the *joint* observations, so a centralised
teacher can label states its decentralised students reach), adds them to the aggregate and
refits a fresh copy of the student on it. Every iterate is measured the same way: greedy return
on fixed evaluation episodes and agreement with the teacher on the states the student itself
visits there. Plain DAgger returns its last iterate and was measured to drop a depth-3 CartPole
tree from 99.8% to 28% of the teacher's return; here the returned iterate is the best by return
(ties: higher on-policy agreement) among those no worse than iterate 0 on either measure — so
the result never loses to the cloned student.

Optional VIPER weights (Bastani et al. 2018) make states where a mistake is costly count more
(a ``Box`` teacher: states where its std is small); they are recomputed on the whole aggregate
each round. A team teacher has no such signal per agent, so team DAgger takes ``weighting=None``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import episode_seeds, open_env
from hybrid.errors import DataError
from hybrid.loop.rollouts import closed_loop, collect, teacher_weights
from hybrid.loop.runners import AgentRunner, TeamRunner, episode_runner


@dataclass(frozen=True)
class Iterate:
    """One DAgger iterate: its mixing β, the states it was fitted on, and how it did."""

    iteration: int
    beta: float
    n_states: int
    mean_return: float
    std_return: float
    agreement: float


@dataclass(frozen=True)
class DaggerResult:
    """The chosen student, which iterate it is, every iterate's record and the final aggregate."""

    student: Any
    best_iteration: int
    history: tuple[Iterate, ...]
    dataset: DistillDataset


def _beta_schedule(beta: float | Callable[[int], float]) -> Callable[[int], float]:
    if callable(beta):
        return beta
    if not 0.0 <= beta <= 1.0:
        raise DataError(f"beta must lie in [0, 1] (the teacher's share of actions); got {beta}")
    return lambda i: float(beta) ** i  # the usual decay β_i = β^i: the teacher hands over step by step


def _check_settings(iterations: int, episodes_per_iteration: int) -> None:
    if iterations < 0 or episodes_per_iteration < 1:
        raise DataError(f"iterations must be ≥ 0 and episodes_per_iteration ≥ 1; got {iterations} and {episodes_per_iteration}")


def _fit(student: Any, dataset: DistillDataset, teacher: Any, weighting: str | None) -> tuple[Any, DistillDataset]:
    """A fresh clone of ``student`` fitted on ``dataset`` (reweighted first when ``weighting``)."""
    if weighting is not None:
        weights, _ = teacher_weights(teacher, dataset.X, dataset.P, weighting)
        dataset = dataset.with_weights(weights)
    fresh = clone(student, safe=False)
    fresh.fit(
        dataset.X, dataset.P, dataset.weights, feature_names=dataset.feature_names, action_names=dataset.action_names, **dataset.action_space.bound_args()
    )
    return fresh, dataset


def _runner(env: Any, teacher: Any, weighting: str | None) -> AgentRunner | TeamRunner:
    runner = episode_runner(env, teacher)
    if weighting is not None and isinstance(runner, TeamRunner):
        runner.close()
        raise DataError("state weighting (VIPER) needs a one-agent teacher's values; team DAgger takes weighting=None")
    return runner


def dagger_iterates(
    env: Any,
    teacher: Any,
    student: Any,
    dataset: DistillDataset,
    iterations: int,
    episodes_per_iteration: int = 5,
    beta: float | Callable[[int], float] = 0.5,
    seed: int = 0,
    weighting: str | None = None,
    *,
    start: Any = None,
) -> Generator[tuple[int, float, Any, DistillDataset], None, None]:
    """Yield ``(iteration, beta, fitted student, aggregate)`` for iterate 0 (cloning on
    ``dataset``) and each DAgger round, without measuring them — callers score iterates their
    own way. ``start``, a student already fitted on ``dataset``, is iterate 0 as it is (the
    rounds then refit fresh clones of it); states are collected on seeds ``seed + 1 + i`` and
    mixed with a generator seeded by ``seed``. In a team (``TeamEnv``: which agents the student
    controls, its features) the student plays the controlled agents.
    """
    _check_settings(iterations, episodes_per_iteration)
    schedule = _beta_schedule(beta)
    runner = _runner(env, teacher, weighting)
    rng = np.random.default_rng(seed)
    try:
        runner.check_dataset(dataset)  # a teacher or dataset of another environment fails before any rollout
        template = start if start is not None else student
        aggregate = dataset
        if start is not None:
            current, weighted = start, dataset
        else:
            current, weighted = _fit(student, aggregate, runner.teacher, weighting)
        yield 0, 1.0, current, weighted
        for i in range(1, iterations + 1):
            rows = runner.mixture(current, schedule(i), episode_seeds(seed + 1 + i, episodes_per_iteration), rng, aggregate)
            aggregate = DistillDataset.concat([aggregate, rows])
            current, weighted = _fit(template, aggregate, runner.teacher, weighting)
            yield i, schedule(i), current, weighted
    finally:
        runner.close()


def dagger(
    env: Any,
    teacher: Any,
    student: Any,
    iterations: int = 5,
    episodes_per_iteration: int = 5,
    beta: float | Callable[[int], float] = 0.5,
    seed: int = 0,
    weighting: str | None = None,
    *,
    eval_episodes: int | None = None,
    dataset: DistillDataset | None = None,
) -> DaggerResult:
    """Run ``iterations`` DAgger rounds after plain cloning; return the best iterate.

    Parameters
    ----------
    env: a gymnasium id or ``Env`` (a ``Discrete`` or bounded ``Box`` action space), or a team.
    teacher: anything ``as_teacher`` adapts (a team: anything ``as_team_teacher`` adapts).
    student: an unfitted (or fitted) estimator with ``fit(X, targets, sample_weight)`` and
        ``predict``; it is cloned, never modified.
    beta: teacher share of the mixture; a float ``β`` gives ``β_i = β**i`` (iterate 0 is the
        teacher alone), a callable maps the iteration to its β.
    seed: evaluation episodes use ``seed``; iteration ``i`` collects with seed ``seed + 1 + i``
        and mixes with a generator seeded by ``seed``.
    weighting: None, ``"q"`` or ``"margin"`` (VIPER-style state weights; a ``Box`` teacher
        weighs by its std).
    eval_episodes: episodes measuring each iterate (default ``episodes_per_iteration``).
    dataset: teacher decisions to clone from instead of collecting fresh ones for iterate 0; its
        names are kept, and its weights too (new states get weight 1) unless ``weighting`` is set.
    """
    _check_settings(iterations, episodes_per_iteration)
    eval_episodes = eval_episodes or episodes_per_iteration
    env_obj, owned = open_env(env)
    try:
        teacher = episode_runner(env_obj, teacher).teacher  # adapted once: every stage sees the same teacher
        if dataset is None:
            dataset = collect(env_obj, teacher, episodes_per_iteration, seed + 1).dataset
        fitted: list[Any] = []
        history: list[Iterate] = []
        weighted = dataset
        for i, beta_i, current, weighted in dagger_iterates(env_obj, teacher, student, dataset, iterations, episodes_per_iteration, beta, seed, weighting):
            measured = closed_loop(env_obj, current, eval_episodes, seed, teacher)
            fitted.append(current)
            history.append(Iterate(i, beta_i, len(weighted), measured.mean_return, measured.std_return, _agreement(measured.agreement)))
    finally:
        if owned:
            env_obj.close()
    best = choose_iterate(history)
    return DaggerResult(fitted[best.iteration], best.iteration, tuple(history), weighted)


def choose_iterate(history: list[Iterate]) -> Iterate:
    """The best iterate by return (ties: agreement, then the earlier) among those whose return and
    agreement are both at least iterate 0's."""
    cloned = history[0]
    admissible = [h for h in history if h.mean_return >= cloned.mean_return and h.agreement >= cloned.agreement]
    return max(admissible, key=lambda h: (h.mean_return, h.agreement, -h.iteration))


def _agreement(measured: float | None) -> float:
    """Agreement on visited states (measured whenever the teacher rides along, as here), NaN if not."""
    return float("nan") if measured is None else float(measured)


dagger_continuous = dagger  # the name continuous callers knew; one DAgger serves every kind
team_dagger_iterates = dagger_iterates  # the name team callers knew
