"""DAgger (Ross et al. 2011) with best-iterate selection, so it is never worse than cloning.

Iterate 0 is plain behaviour cloning: the student fitted on the teacher's own rollouts. Each
later iterate rolls out a mixture — at every step the teacher acts with probability
``beta_i``, the latest student otherwise — lets the teacher label every visited state, adds
them to the aggregate and refits a fresh copy of the student on it. Every iterate is measured
the same way: greedy return on fixed evaluation episodes and agreement with the teacher on the
states the student itself visits there. Plain DAgger returns its last iterate and was measured
to drop a depth-3 CartPole tree from 99.8% to 28% of the teacher's return; here the returned
iterate is the best by return (ties: higher on-policy agreement) among those no worse than
iterate 0 on either measure — so the result never loses to the cloned student.

Optional VIPER weights (Bastani et al. 2018) make states where a mistake is costly count more:
see ``hybrid.teachers.base.state_weights``; they are recomputed on the whole aggregate each round.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from sklearn.base import clone

from hybrid.data.dataset import DistillDataset
from hybrid.errors import DataError
from hybrid.loop.rollouts import (
    closed_loop,
    collect,
    episode_seeds,
    make_env,
    policy_actions,
    run_episodes,
)
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import Teacher, state_weights


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


def _fit(student: Any, dataset: DistillDataset, teacher: Any, weighting: str | None) -> tuple[Any, DistillDataset]:
    if weighting is not None:
        weights, _ = state_weights(teacher, dataset.X, dataset.P, weighting)
        dataset = dataset.with_weights(weights)
    fresh = clone(student, safe=False)
    fresh.fit(dataset.X, dataset.P, dataset.weights, feature_names=dataset.feature_names, action_names=dataset.action_names)
    return fresh, dataset


def _check_matches_env(dataset: DistillDataset, env: gym.Env) -> None:
    n_features = int(np.prod(env.observation_space.shape or ()))
    n_actions = int(getattr(env.action_space, "n", -1))
    if (dataset.n_features, dataset.n_actions) != (n_features, n_actions):
        raise DataError(
            f"the dataset has {dataset.n_features} features and {dataset.n_actions} actions but the environment "
            f"{n_features} and {n_actions}; pass a dataset collected in this environment"
        )


def _label(teacher: Teacher, X: np.ndarray, like: DistillDataset) -> DistillDataset:
    """The teacher's probabilities on new states, under the names of the data they join."""
    P = teacher.predict_proba(X)
    if P.shape[1] != like.n_actions or X.shape[1] != like.n_features:
        raise DataError(
            f"the teacher gives {P.shape[1]} actions on {X.shape[1]} features here, but the dataset has "
            f"{like.n_actions} and {like.n_features}; use the teacher of this environment"
        )
    return DistillDataset(X, P, like.action_names, like.feature_names)


def _mixture_states(env: gym.Env, teacher: Any, student: Any, beta: float, seeds: list[int], rng: np.random.Generator) -> np.ndarray:
    student_actions, teacher_actions = policy_actions(student), teacher.predict

    def act(x: np.ndarray) -> int:
        chosen = teacher_actions if rng.random() < beta else student_actions
        return int(chosen(x[None, :])[0])

    states, _ = run_episodes(env, act, seeds)
    return np.concatenate(states)


def dagger_iterates(
    env: str | gym.Env,
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
    rounds then refit fresh clones of it); states are collected on seeds ``seed + 1 + i``.
    """
    if iterations < 0 or episodes_per_iteration < 1:
        raise DataError(f"iterations must be ≥ 0 and episodes_per_iteration ≥ 1; got {iterations} and {episodes_per_iteration}")
    teacher = as_teacher(teacher)
    schedule = _beta_schedule(beta)
    env_obj, owned = make_env(env)
    rng = np.random.default_rng(seed)
    try:
        _check_matches_env(dataset, env_obj)
        _label(teacher, dataset.X[:1], dataset)  # a teacher that does not fit the data fails before any rollout
        aggregate = dataset
        if start is not None:
            current, weighted = start, dataset
        else:
            current, weighted = _fit(student, aggregate, teacher, weighting)
        yield 0, 1.0, current, weighted
        for i in range(1, iterations + 1):
            X = _mixture_states(env_obj, teacher, current, schedule(i), episode_seeds(seed + 1 + i, episodes_per_iteration), rng)
            aggregate = DistillDataset.concat([aggregate, _label(teacher, X, aggregate)])
            current, weighted = _fit(start if start is not None else student, aggregate, teacher, weighting)
            yield i, schedule(i), current, weighted
    finally:
        if owned:
            env_obj.close()


def dagger(
    env: str | gym.Env,
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
    env: a gymnasium id or ``Env`` with a Discrete action space.
    teacher: anything ``as_teacher`` adapts. student: an unfitted (or fitted) estimator with
        ``fit(X, P, sample_weight)`` and ``predict``; it is cloned, never modified.
    beta: teacher share of the mixture; a float ``β`` gives ``β_i = β**i`` (iterate 0 is the
        teacher alone), a callable maps the iteration to its β.
    seed: evaluation episodes use ``seed``; iteration ``i`` collects with seed ``seed + 1 + i``
        and mixes with a generator seeded by ``seed``.
    weighting: None, ``"q"`` or ``"margin"`` (VIPER-style state weights).
    eval_episodes: episodes measuring each iterate (default ``episodes_per_iteration``).
    dataset: teacher decisions to clone from instead of collecting fresh ones for iterate 0; its
        names are kept, and its weights too (new states get weight 1) unless ``weighting`` is set.
    """
    if iterations < 0 or episodes_per_iteration < 1:
        raise DataError(f"iterations must be ≥ 0 and episodes_per_iteration ≥ 1; got {iterations} and {episodes_per_iteration}")
    teacher = as_teacher(teacher)
    eval_episodes = eval_episodes or episodes_per_iteration
    env_obj, owned = make_env(env)
    try:
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
    cloned = history[0]
    admissible = [h for h in history if h.mean_return >= cloned.mean_return and h.agreement >= cloned.agreement]
    best = max(admissible, key=lambda h: (h.mean_return, h.agreement, -h.iteration))
    return DaggerResult(fitted[best.iteration], best.iteration, tuple(history), weighted)


def _agreement(measured: float | None) -> float:
    """Agreement on visited states (measured whenever the teacher rides along, as here), NaN if not."""
    return float("nan") if measured is None else float(measured)
