"""DAgger for continuous actions: the student drives, the teacher labels the states it reaches.

Same procedure and result as ``hybrid.loop.dagger.dagger`` (iterate 0 is plain cloning; iteration
``i`` rolls out a β-mixture, ``β_i = β**i``, labels every visited state with the teacher's
deterministic action and refits on the aggregate; the chosen iterate is the best on the
evaluation episodes among those not worse than cloning), for students that predict action
vectors in a ``Box`` action space. Mixing is per step: the teacher's action with probability β.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import gymnasium as gym
import numpy as np
from sklearn.base import clone

from hybrid.data.dataset import DistillDataset
from hybrid.errors import DataError
from hybrid.loop.dagger import DaggerResult, Iterate
from hybrid.loop.rollouts import closed_loop, collect, episode_seeds, make_env, policy_actions, run_episodes
from hybrid.students._base import fit_dataset as fit_continuous
from hybrid.teachers.adapters import as_teacher


def dagger_continuous_iterates(
    env: str | gym.Env,
    teacher: Any,
    student: Any,
    dataset: DistillDataset,
    iterations: int,
    episodes_per_iteration: int = 5,
    beta: float = 0.5,
    seed: int = 0,
    *,
    start: Any = None,
) -> Generator[tuple[int, float, Any, DistillDataset], None, None]:
    """Yield ``(iteration, beta, fitted student, aggregate)`` for iterate 0 (cloning on the
    continuous ``dataset``) and each DAgger round, without measuring them, as
    ``hybrid.loop.dagger.dagger_iterates`` does for discrete actions. ``start``, a student already
    fitted on ``dataset``, is iterate 0 as it is (the rounds then refit fresh clones of it);
    states are collected on seeds ``seed + 1 + i``; the student is never modified.
    """
    if iterations < 0 or episodes_per_iteration < 1 or not 0.0 <= beta <= 1.0:
        raise DataError(f"iterations ≥ 0, episodes_per_iteration ≥ 1 and beta in [0, 1] are needed; got {iterations}, {episodes_per_iteration}, {beta}")
    env_obj, owned = make_env(env)
    try:
        space = env_obj.action_space
        if not isinstance(space, gym.spaces.Box):
            raise DataError(f"dagger_continuous needs a Box action space; {space} is discrete: use hybrid.loop.dagger")
        teacher = as_teacher(teacher, action_space=space)
        rng = np.random.default_rng(seed)
        aggregate = dataset
        template = start if start is not None else student
        current = start if start is not None else fit_continuous(clone(student, safe=False), aggregate)
        yield 0, 1.0, current, aggregate
        for i in range(1, iterations + 1):
            b = beta**i
            student_act, teacher_act = policy_actions(current, space), teacher.predict

            def act(x: np.ndarray, b: float = b, s: Any = student_act, t: Any = teacher_act) -> np.ndarray:
                return (t if rng.random() < b else s)(x[None, :])[0]

            states, _ = run_episodes(env_obj, act, episode_seeds(seed + 1 + i, episodes_per_iteration))
            X = np.concatenate(states)
            labels = DistillDataset(
                X,
                teacher.predict(X),
                aggregate.action_names,
                aggregate.feature_names,
                **aggregate._kind_args() | {"action_std": None if aggregate.action_std is None else teacher.action_std(X)},
            )
            aggregate = DistillDataset.concat([aggregate, labels])
            current = fit_continuous(clone(template, safe=False), aggregate)
            yield i, b, current, aggregate
    finally:
        if owned:
            env_obj.close()


def dagger_continuous(
    env: str | gym.Env,
    teacher: Any,
    student: Any,
    iterations: int = 4,
    episodes_per_iteration: int = 5,
    beta: float = 0.5,
    seed: int = 0,
    *,
    eval_episodes: int | None = None,
    dataset: DistillDataset | None = None,
) -> DaggerResult:
    """Run ``iterations`` DAgger rounds after cloning ``dataset`` (or fresh teacher episodes).

    ``seed``: evaluation episodes use it; iteration ``i`` collects with ``seed + 1 + i``. The
    student is cloned, never modified.
    """
    if iterations < 0 or episodes_per_iteration < 1 or not 0.0 <= beta <= 1.0:
        raise DataError(f"iterations ≥ 0, episodes_per_iteration ≥ 1 and beta in [0, 1] are needed; got {iterations}, {episodes_per_iteration}, {beta}")
    env_obj, owned = make_env(env)
    try:
        space = env_obj.action_space
        if not isinstance(space, gym.spaces.Box):
            raise DataError(f"dagger_continuous needs a Box action space; {space} is discrete: use hybrid.loop.dagger")
        teacher = as_teacher(teacher, action_space=space)
        first = dataset if dataset is not None else collect(env_obj, teacher, episodes_per_iteration, seed + 1).dataset
        eval_episodes = eval_episodes or episodes_per_iteration
        fitted: list[Any] = []
        history: list[Iterate] = []
        aggregate = first
        for i, b, current, aggregate in dagger_continuous_iterates(env_obj, teacher, student, first, iterations, episodes_per_iteration, beta, seed):
            measured = closed_loop(env_obj, current, eval_episodes, seed, teacher)
            fitted.append(current)
            history.append(Iterate(i, b, len(aggregate), measured.mean_return, measured.std_return, float(measured.agreement or 0.0)))
    finally:
        if owned:
            env_obj.close()
    cloned = history[0]
    admissible = [h for h in history if h.mean_return >= cloned.mean_return]
    best = max(admissible, key=lambda h: (h.mean_return, h.agreement, -h.iteration))
    return DaggerResult(fitted[best.iteration], best.iteration, tuple(history), aggregate)
