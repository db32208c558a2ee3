"""``collect`` for continuous actions: the teacher's action vectors (and std) in a ``Box`` space.

``hybrid.loop.rollouts.collect`` hands over here when the environment's action space is a ``Box``;
the dataset it returns holds the teacher's deterministic actions ``[n, m]`` with the space's
bounds, and the teacher's per-dimension std when it has one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.data.store import TrajectoryStore
from hybrid.errors import DataError
from hybrid.loop.rollouts import Rollouts, episode_seeds, run_episodes
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import continuous_weights


def collect_continuous(
    env: gym.Env,
    teacher: Any,
    episodes: int,
    seed: int,
    store: TrajectoryStore | None,
    *,
    sample: bool,
    weighting: str | None,
) -> Rollouts:
    """Roll a continuous teacher out in ``env`` (a ``Box`` action space); see ``collect``.

    ``sample`` steps with the deterministic action plus Gaussian noise of the teacher's std
    (seeded, clipped to the bounds) while the dataset keeps the deterministic action as label.
    """
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise DataError(f"continuous rollouts need a Box action space; this environment has {space}: collect discrete actions with hybrid.collect")
    teacher = as_teacher(teacher, action_space=space)
    if teacher.n_actions != space.shape[0]:
        raise DataError(
            f"the environment takes {space.shape[0]} action dimensions but teacher "
            f"{teacher.identity!r} gives {teacher.n_actions}; use the teacher of this environment"
        )
    if not (np.allclose(teacher.action_low, space.low) and np.allclose(teacher.action_high, space.high)):
        raise DataError(
            f"teacher {teacher.identity!r} has bounds {teacher.action_low.tolist()}..{teacher.action_high.tolist()} "
            f"but the environment {space.low.tolist()}..{space.high.tolist()}; use the teacher of this environment"
        )
    rng = np.random.default_rng(seed)
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

    def act(x: np.ndarray) -> np.ndarray:
        a = teacher.predict(x[None, :])[0]
        std = teacher.action_std(x[None, :])
        s = None if std is None else std[0]
        records.append((x, a, s))
        if not sample:
            return a
        if s is None:
            raise DataError(f"teacher {teacher.identity!r} has no action std to sample from; collect with sample=False")
        return np.clip(a + rng.normal(size=a.shape).astype(np.float32) * s, space.low, space.high)

    _, rewards = run_episodes(env, act, episode_seeds(seed, episodes))
    X = np.stack([r[0] for r in records])
    A = np.stack([r[1] for r in records])
    S = None if any(r[2] is None for r in records) else np.stack([r[2] for r in records if r[2] is not None])
    env_id = env.spec.id if env.spec else type(env.unwrapped).__name__
    meta: dict[str, Any] = {"source": "collect", "env": env_id, "teacher": teacher.identity, "seed": seed, "episodes": episodes, "action_kind": "continuous"}
    if store is not None:
        lengths = [len(r) for r in rewards]
        dones = np.zeros(len(X), dtype=bool)
        dones[np.cumsum(lengths) - 1] = True
        run_id = store.start_run(
            teacher.action_names,
            teacher.feature_names,
            n_features=X.shape[1],
            teacher=teacher.content_hash or teacher.identity,
            env=env_id,
            seed=seed,
            source="collect",
            action_low=space.low,
            action_high=space.high,
        )
        store.log_steps(run_id, X, A, episode=np.repeat(np.arange(len(lengths)), lengths), rewards=np.concatenate(rewards), dones=dones, stds=S)
        meta["run_id"] = run_id
    weights = None
    if weighting is not None:
        weights, meta["weighting"] = continuous_weights(teacher, X, weighting)
    dataset = DistillDataset(
        X, A, teacher.action_names, teacher.feature_names, weights, meta, action_kind="continuous", action_std=S, action_low=space.low, action_high=space.high
    )
    return Rollouts(dataset, np.array([sum(r) for r in rewards], dtype=np.float64))
