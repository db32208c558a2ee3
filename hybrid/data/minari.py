"""Minari datasets both ways: offline-RL trajectories in, our rollouts out.

Minari (the Farama successor of D4RL) keeps episodes of observations, actions, rewards,
terminations and truncations with the environment's spec. :func:`from_minari` turns one into a
``DistillDataset``: the logged observations as states and the logged actions as labels (one-hot
for ``Discrete``, action vectors within the bounds for ``Box``), or, given a teacher, the
teacher's probabilities (or actions) there — the usual way to distil from offline data. The
episode of every row travels as a row tag (``meta["rows"]["episode"]``), so subsets and splits
keep it. :func:`to_minari` writes the runs of a trajectory store (or what ``hybrid.collect``
logged into one) as a Minari dataset, with the environment's spec when its id is registered.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.errors import DataError

INSTALL = "pip install 'agent-distill[minari]'"


def _minari() -> Any:
    try:
        import minari
    except ImportError:
        raise DataError(f"Minari datasets need minari: {INSTALL}") from None
    return minari


def from_minari(dataset: Any, teacher: Any = None, *, action_names: Sequence[str] | None = None) -> DistillDataset:
    """A dataset of a Minari dataset's observations and actions (a ``minari.MinariDataset`` or
    the id of a local one), every episode kept in order and tagged.

    ``teacher`` (anything with ``predict_proba``, or ``targets`` for continuous actions, and
    ``action_names``) relabels the states with its targets; else the logged actions are the
    labels, named by ``action_names`` (default ``action_0``, …).
    """
    import gymnasium as gym

    minari = _minari()
    if isinstance(dataset, str):
        try:
            dataset = minari.load_dataset(dataset)
        except (FileNotFoundError, ValueError) as e:
            raise DataError(f"no local Minari dataset {dataset!r} ({e}); list them with `minari list local` or pass a MinariDataset") from None
    space, obs_space = dataset.action_space, dataset.observation_space
    if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
        raise DataError(
            f"Minari dataset {dataset.spec.dataset_id} has a {type(space).__name__} action space; only Discrete and Box actions distil — "
            "flatten it into a Box (gymnasium.wrappers.FlattenObservation's counterpart for actions) when recording"
        )
    if not isinstance(obs_space, gym.spaces.Box):
        raise DataError(f"Minari dataset {dataset.spec.dataset_id} has a {type(obs_space).__name__} observation space; states must be a Box of numbers")
    states, actions, episodes = [], [], []
    for ep in dataset.iterate_episodes():
        n = len(ep.actions)
        states.append(np.asarray(ep.observations, dtype=np.float32)[:n].reshape(n, -1))  # the final observation has no decision
        actions.append(np.asarray(ep.actions))
        episodes.append(np.full(n, int(ep.id)))
    if not states:
        raise DataError(f"Minari dataset {dataset.spec.dataset_id} holds no episodes")
    X, A, episode = np.concatenate(states), np.concatenate(actions), np.concatenate(episodes)
    ids = sorted(set(episode.tolist()))
    meta: dict[str, Any] = {
        "source": "minari",
        "dataset_id": dataset.spec.dataset_id,
        "env": dataset.spec.env_spec.id if dataset.spec.env_spec is not None else None,
        "rows": {"episode": {"names": [str(i) for i in ids], "codes": np.searchsorted(ids, episode).tolist()}},
    }
    if isinstance(space, gym.spaces.Discrete):
        k = int(space.n)
        if teacher is not None:
            names, P = list(teacher.action_names), np.asarray(teacher.predict_proba(X), dtype=np.float32)
        else:
            names = list(action_names or [f"action_{i}" for i in range(k)])
            P = np.zeros((len(X), k), dtype=np.float32)
            P[np.arange(len(X)), A.astype(np.int64).reshape(-1) - int(space.start)] = 1.0
        if len(names) != k:
            raise DataError(f"{len(names)} action names for a Discrete({k}) action space; give one name per action")
        return DistillDataset(X, P, names, meta={**meta, "labels": "teacher" if teacher is not None else "logged actions"})
    low, high = space.low.astype(np.float32).reshape(-1), space.high.astype(np.float32).reshape(-1)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise DataError(f"Minari dataset {dataset.spec.dataset_id} has an unbounded Box action space; a continuous dataset needs finite bounds")
    targets = A.reshape(len(X), -1).astype(np.float32)
    std = None
    if teacher is not None:
        targets = np.asarray(teacher.targets(X) if hasattr(teacher, "targets") else teacher.predict(X), dtype=np.float32)
        std_of = getattr(teacher, "action_std", None)
        std = std_of(X) if callable(std_of) else None
        names = list(teacher.action_names)
    else:
        names = list(action_names or [f"action_{i}" for i in range(len(low))])
    return DistillDataset(
        X,
        np.clip(targets, low, high),
        names,
        meta={**meta, "labels": "teacher" if teacher is not None else "logged actions"},
        action_kind="continuous",
        action_std=std,
        action_low=low,
        action_high=high,
    )


def to_minari(source: Any, dataset_id: str, *, runs: Sequence[int] | None = None, algorithm_name: str = "agent-distill", description: str | None = None) -> Any:
    """Write a trajectory store's runs (all, or ``runs``) — or ``Rollouts`` that ``hybrid.collect``
    logged into a store — as the Minari dataset ``dataset_id``; returns the ``MinariDataset``.

    Every logged episode becomes one Minari episode with its observations, the actions taken
    (the greedy action where none was logged), rewards, and its last step terminated when the
    log says done, else truncated. A store does not keep the observation after an episode's last
    step, so the final observation repeats the last one. The environment's spec is written when
    the runs' environment id is registered with gymnasium.
    """
    import gymnasium as gym

    minari = _minari()
    from minari.data_collector import EpisodeBuffer

    store, runs = _store_runs(source, runs)
    chosen = [r for r in store.runs() if runs is None or r["id"] in set(runs)]
    if not chosen:
        raise DataError(f"{store.path} holds no runs{'' if runs is None else f' {list(runs)}'} to write; log decisions first")
    first = chosen[0]
    for r in chosen[1:]:
        if (r["action_names"], r["n_features"], r["action_space"], r["env"]) != (
            first["action_names"],
            first["n_features"],
            first["action_space"],
            first["env"],
        ):
            raise DataError(f"runs {first['id']} and {r['id']} differ in actions, features, bounds or environment; a Minari dataset holds one: pass runs=[...]")
    if any((r["meta"] or {}).get("state_kind") == "record" for r in chosen):
        raise DataError("record runs (text or category states) have no Box observations; Minari takes numeric runs")
    d, k, bounds = first["n_features"], len(first["action_names"]), first["action_space"]
    buffers: list[Any] = []
    for r in chosen:
        rows = store.db.execute(
            "select e.episode, s.state, s.probs, s.action, s.reward, s.done from steps s join episodes e on e.id = s.episode_id "
            "where s.run_id = ? order by e.episode, s.t",
            [r["id"]],
        ).fetchall()
        for _, group in itertools.groupby(rows, key=lambda row: row[0]):
            steps = list(group)
            X = np.frombuffer(b"".join(s[1] for s in steps), dtype="<f4").reshape(-1, d)
            P = np.frombuffer(b"".join(s[2] for s in steps), dtype="<f4").reshape(-1, k)
            if bounds is None:
                acts: Any = np.asarray([int(np.argmax(p)) if s[3] is None else int(s[3]) for s, p in zip(steps, P)], dtype=np.int64)
            else:
                acts = P.copy()
            done = bool(steps[-1][5])
            n = len(steps)
            buffers.append(
                EpisodeBuffer(
                    id=len(buffers),
                    observations=np.concatenate([X, X[-1:]]),
                    actions=acts,
                    rewards=[0.0 if s[4] is None else float(s[4]) for s in steps],
                    terminations=[False] * (n - 1) + [done],
                    truncations=[False] * (n - 1) + [not done],
                    infos={},
                )
            )
    action_space = gym.spaces.Discrete(k) if bounds is None else gym.spaces.Box(np.asarray(bounds["low"], np.float32), np.asarray(bounds["high"], np.float32))
    env = first["env"] if first["env"] in gym.registry else None
    observation_space = gym.make(env).observation_space if env is not None else gym.spaces.Box(-np.inf, np.inf, (d,), np.float32)
    try:
        return minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=env,
            algorithm_name=algorithm_name,
            action_space=action_space,
            observation_space=observation_space,
            description=description or f"decisions logged by agent-distill from {store.path.name}, runs {[r['id'] for r in chosen]}",
            data_format="arrow",
        )
    except ValueError as e:
        raise DataError(f"cannot write Minari dataset {dataset_id!r}: {e}") from None


def _store_runs(source: Any, runs: Sequence[int] | None) -> tuple[Any, Sequence[int] | None]:
    """The store to read and the runs to take: a store as given, or the store and run a
    ``Rollouts``' dataset was logged into."""
    if hasattr(source, "runs") and hasattr(source, "db"):
        return source, runs
    meta = getattr(getattr(source, "dataset", None), "meta", {})
    if "run_id" in meta and "store" in meta:
        from hybrid.data.store import TrajectoryStore

        return TrajectoryStore(meta["store"]), [int(meta["run_id"])]
    raise DataError(
        "to_minari writes a TrajectoryStore's runs; roll out with hybrid.collect(env, teacher, store=TrajectoryStore(path)) "
        "so the episodes, actions and rewards Minari keeps are logged, then pass the store or those Rollouts"
    )
