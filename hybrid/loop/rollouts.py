"""Rollouts: collect teacher decisions, and measure a policy's closed-loop return, keyed by agent.

One agent (a gymnasium id or ``Env``) or a team (a PettingZoo ``ParallelEnv``, a
``hybrid.TeamEnv`` or a known team id), and either kind of action: the environment's
``ActionSpace`` (``hybrid.envs.adapter``) says what a decision is — probabilities and an action
index for ``Discrete``, an action vector (and the teacher's std) for a bounded ``Box`` — so
``collect``, ``closed_loop`` and ``evaluate`` serve every kind without branching on it.

Episode ``i`` of a call with ``seed`` resets the environment with the ``i``-th seed of
``episode_seeds(seed, …)``, so two policies evaluated with the same seed start from the same
states (paired comparisons) and every figure is reproducible.

In a team every logged decision is keyed by its agent: ``team_collect`` returns a dataset whose
rows are (agent observation → teacher's targets for that agent), with the agent's id in
``dataset.agent_ids`` and, given a store, in the ``agent`` column of its steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.data.store import TrajectoryStore
from hybrid.envs.adapter import TeamEnv, TeamEpisode, as_team_env, env_action_space, env_id, episode_seeds, is_team_env, make_env, run_episodes
from hybrid.errors import DataError
from hybrid.loop.runners import AgentRunner, TeamRunner, label_dataset, step_decider, team_teacher_of
from hybrid.spaces import ActionSpace, action_space_of
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import continuous_weights, state_weights
from hybrid.teachers.team import TeamTeacher

# VIPER-style state weights by the teacher's kind of action: the Q-gap or margin of its
# probabilities, or the certainty its std gives (``hybrid.teachers``)
_WEIGHTS: dict[str, Callable[[Any, np.ndarray, np.ndarray, str], tuple[np.ndarray, str]]] = {
    "discrete": state_weights,
    "continuous": lambda teacher, X, targets, how: continuous_weights(teacher, X, how),
}


def teacher_weights(teacher: Any, X: np.ndarray, targets: np.ndarray, weighting: str) -> tuple[np.ndarray, str]:
    """VIPER-style importance of each state (mean 1) and the signal it came from (``weighting``:
    ``"q"``, ``"margin"``; a ``Box`` teacher weighs by its std whichever is asked)."""
    return _WEIGHTS[action_space_of(teacher).kind](teacher, X, targets, weighting)


class Rollouts(NamedTuple):
    """What ``collect`` returns; unpacks as ``dataset, returns``."""

    dataset: DistillDataset
    returns: np.ndarray


class EpisodeReturns:
    """Mean and spread of the per-episode ``returns`` of a closed-loop measurement."""

    returns: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))


@dataclass(frozen=True)
class ClosedLoop(EpisodeReturns):
    """A policy's closed-loop measurement: returns per episode, and (given a teacher) how often
    the policy agreed with the teacher's greedy action on the states the policy itself visited
    (continuous actions: share within ``metrics.DEFAULT_TOLERANCE`` of each dimension's range)."""

    returns: np.ndarray
    states: np.ndarray
    agreement: float | None


@dataclass(frozen=True)
class TeamClosedLoop(EpisodeReturns):
    """A team policy's closed-loop measurement: team return per episode, the episodes, and (given
    a teacher) how often each controlled agent's action agreed with the teacher's on the
    observations it met."""

    returns: np.ndarray
    episodes: list[TeamEpisode]
    agreement: float | None
    agent_agreement: dict[str, float] | None


def _check_fits(teacher: Any, space: ActionSpace) -> None:
    """Refuse a teacher acting in another space than the environment's (count, bounds)."""
    theirs = action_space_of(teacher)
    if theirs.n != space.n:
        raise DataError(f"the environment has {space.n} actions but teacher {teacher.identity!r} gives {theirs.n}; use the teacher of this environment")
    mine, bounds = space.bound_args(), theirs.bound_args()
    if bounds.keys() != mine.keys() or not all(np.allclose(bounds[k], mine[k]) for k in mine):
        raise DataError(f"the environment acts in {space!r} but teacher {teacher.identity!r} in {theirs!r}; use the teacher of this environment")


def collect(
    env: str | gym.Env | Any,
    teacher: Any,
    episodes: int = 10,
    seed: int = 0,
    store: TrajectoryStore | None = None,
    *,
    sample: bool = False,
    weighting: str | None = None,
) -> Rollouts:
    """Roll the teacher out and return its decisions as a dataset with the episode returns.

    The teacher acts greedily, or explores when ``sample`` (seeded): it draws from its
    probabilities, or adds Gaussian noise of its std to its action (clipped to the bounds) while
    the dataset keeps the deterministic action as label. The dataset holds the teacher's targets
    — probabilities, or actions with the space's bounds and the teacher's std when it has one.
    With a ``store`` every step (state, targets, action, reward, done) is logged as a new run and
    the run id is in ``dataset.meta["run_id"]``. ``weighting`` ("q" or "margin") adds VIPER-style
    state weights (a ``Box`` teacher: favouring states where its std is small).

    A team environment is rolled out by ``team_collect``: every decision keyed by its agent.
    """
    if is_team_env(env):
        if sample or weighting is not None:
            raise DataError("team rollouts log the teacher's greedy decisions: sample and weighting are for one agent; leave them out")
        return team_collect(env, teacher, episodes, seed, store)
    env_obj, owned = make_env(env)
    try:
        space = env_action_space(env_obj)
        teacher = as_teacher(teacher, action_space=env_obj.action_space)
        rng = np.random.default_rng(seed)
        seeds = episode_seeds(seed, episodes)
        records: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, Any]] = []

        def act(x: np.ndarray) -> Any:
            target = teacher.targets(x[None, :])[0]
            if not records:  # a batch callable names its actions on its first call
                _check_fits(teacher, space)
            std = teacher.action_std(x[None, :])
            s = None if std is None else std[0]
            a = space.sample(target, rng, s) if sample else space.greedy(target[None, :])[0]
            records.append((x, target, s, a))
            return a

        _, rewards = run_episodes(env_obj, act, seeds)
        X = np.stack([r[0] for r in records])
        T = np.stack([r[1] for r in records])
        S = None if any(r[2] is None for r in records) else np.stack([r[2] for r in records if r[2] is not None])
        name = env_id(env_obj)
        meta: dict[str, Any] = {"source": "collect", "env": name, "teacher": teacher.identity, "seed": seed, "episodes": episodes}
        if not space.is_discrete:
            meta["action_kind"] = space.kind
        if store is not None:
            meta["run_id"] = _log(store, teacher, space, name, seed, X, T, S, [r[3] for r in records], rewards)
            meta["store"] = str(store.path)  # where the run's episodes, actions and rewards are (hybrid.to_minari reads them)
        weights = None
        if weighting is not None:
            weights, meta["weighting"] = teacher_weights(teacher, X, T, weighting)
        dataset = DistillDataset(X, T, teacher.action_names, teacher.feature_names, weights, meta, **space.dataset_args(S))
        return Rollouts(dataset, np.array([sum(r) for r in rewards], dtype=np.float64))
    finally:
        if owned:
            env_obj.close()


def _log(
    store: TrajectoryStore,
    teacher: Any,
    space: ActionSpace,
    name: str,
    seed: int,
    X: np.ndarray,
    T: np.ndarray,
    S: np.ndarray | None,
    taken: list[Any],
    rewards: list[list[float]],
) -> int:
    lengths = [len(r) for r in rewards]
    episode = np.repeat(np.arange(len(lengths)), lengths)
    dones = np.zeros(len(X), dtype=bool)
    dones[np.cumsum(lengths) - 1] = True
    run_id = store.start_run(
        teacher.action_names,
        teacher.feature_names,
        n_features=X.shape[1],
        teacher=teacher.content_hash or teacher.identity,
        env=name,
        seed=seed,
        source="collect",
        meta=None,
        **space.bound_args(),
    )
    store.log_steps(run_id, X, T, episode=episode, actions=space.store_actions(taken), rewards=np.concatenate(rewards), dones=dones, stds=S)
    return run_id


def closed_loop(env: str | gym.Env | Any, policy: Any, episodes: int, seed: int, teacher: Any = None) -> Any:
    """Roll ``policy`` out greedily; with a ``teacher``, also its agreement on the visited states.
    In a team environment: ``team_closed_loop`` (team returns)."""
    if is_team_env(env):
        return team_closed_loop(env, policy, episodes, seed, teacher)
    runner = AgentRunner(env, teacher)
    try:
        returns, states = runner.returns(policy, episode_seeds(seed, episodes))
        agreement = None if teacher is None else runner.agreement(policy, states)
    finally:
        runner.close()
    return ClosedLoop(np.array(returns, dtype=np.float64), np.concatenate(states), agreement)


def evaluate(env: str | gym.Env | Any, policy: Any, episodes: int = 10, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the greedy closed-loop return of ``policy``."""
    result = closed_loop(env, policy, episodes, seed)
    return result.mean_return, result.std_return


def team_closed_loop(env: Any, policy: Any, episodes: int, seed: int, teacher: Any = None) -> TeamClosedLoop:
    """Roll ``policy`` out greedily (``None``: a uniformly random team); with a ``teacher``, also
    the controlled agents' agreement with it on the observations they met."""
    runner = TeamRunner(env, teacher)
    try:
        returns, played = runner.returns(policy, episode_seeds(seed, episodes))
    finally:
        runner.close()
    team_returns = np.array(returns, dtype=np.float64)
    if runner.teacher is None or policy is None:
        return TeamClosedLoop(team_returns, played, None, None)
    per_agent = runner.agent_agreement(policy, played)
    total = sum(len(e) for e in played) * len(per_agent)
    overall = sum(v * sum(len(e) for e in played) for v in per_agent.values()) / total
    return TeamClosedLoop(team_returns, played, float(overall), per_agent)


def team_evaluate(env: Any, policy: Any, episodes: int = 10, seed: int = 0, teacher: Any = None) -> tuple[float, float]:
    """Mean and standard deviation of the greedy team return of ``policy`` (``None``: random team)."""
    result = team_closed_loop(env, policy, episodes, seed, teacher)
    return result.mean_return, result.std_return


def team_collect(env: Any, teacher: Any, episodes: int = 10, seed: int = 0, store: TrajectoryStore | None = None) -> Rollouts:
    """Roll the team teacher out greedily and return its decisions for the controlled agents as a
    dataset (``agent_ids`` set) with the team returns. With a ``store`` every decision is logged
    with its agent; the run id is in ``dataset.meta["run_id"]``."""
    team, owned = as_team_env(env)
    try:
        team_teacher = team_teacher_of(team, teacher)
        played = team.run_episodes(step_decider(team_teacher.team_predict), episode_seeds(seed, episodes))
    finally:
        if owned:
            team.close()
    meta: dict[str, Any] = {
        "source": "team_collect",
        "env": team.env_id,
        "teacher": team_teacher.identity,
        "teacher_kind": team_teacher.kind,
        "agents": list(team.controlled),
        "agent_features": team.agent_features,
        "seed": seed,
        "episodes": episodes,
    }
    dataset = label_dataset(team, team_teacher, played, meta)
    if store is not None:
        meta["run_id"] = _team_log(store, team, team_teacher, dataset, played, seed)
        dataset = DistillDataset(
            dataset.X, dataset.P, dataset.action_names, dataset.feature_names, meta=meta, agent_ids=dataset.agent_ids, **dataset.action_space.dataset_args()
        )
    return Rollouts(dataset, np.array([e.team_return for e in played], dtype=np.float64))


def _team_log(store: TrajectoryStore, team: TeamEnv, teacher: TeamTeacher, dataset: DistillDataset, played: list[TeamEpisode], seed: int) -> int:
    """One run; each step row is one agent's decision at one time step, with its own reward."""
    agents = list(team.controlled)
    index = [team.agents.index(a) for a in agents]
    space = dataset.action_space
    episode = np.concatenate([np.full(len(e) * len(agents), i) for i, e in enumerate(played)])
    taken = np.concatenate([np.stack([e.actions[a] for a in agents], axis=1).reshape(len(e) * len(agents), *e.actions[agents[0]].shape[1:]) for e in played])
    rewards = np.concatenate([e.rewards[:, index].reshape(-1) for e in played])
    dones = np.concatenate([np.repeat(np.arange(len(e)) == len(e) - 1, len(agents)) for e in played])
    run_id = store.start_run(
        dataset.action_names,
        dataset.feature_names,
        n_features=dataset.n_features,
        teacher=teacher.content_hash or teacher.identity,
        env=team.env_id,
        seed=seed,
        source="team_collect",
        meta={"team": list(team.agents), "agents": agents, "teacher_kind": teacher.kind, "agent_features": team.agent_features},
        **space.bound_args(),
    )
    assert dataset.agent_ids is not None
    store.log_steps(
        run_id,
        dataset.X,
        dataset.P,
        episode=episode,
        actions=space.store_actions(list(taken)),
        rewards=rewards,
        dones=dones,
        agents=dataset.agent_ids.tolist(),
    )
    return run_id
