"""Rollouts of a team in a PettingZoo parallel environment: collect, closed loop, evaluate.

The team form of ``hybrid.loop.rollouts``. Episode ``i`` of a call with ``seed`` resets with the
``i``-th seed of ``hybrid.loop.rollouts.episode_seeds(seed, …)``, so a teacher, a random team and
students scored with the same seed meet the same episodes (paired comparisons).

Every logged decision is keyed by its agent: ``team_collect`` returns a dataset whose rows are
(agent observation → teacher's probabilities for that agent), with the agent's id in
``dataset.agent_ids`` and, given a store, in the ``agent`` column of its steps. A *team policy*
is a ``TeamTeacher`` (it decides for everyone), one student shared by the controlled agents, or
a mapping ``{agent: student}``; students act only on their own agent's features
(``TeamEnv.features``) and the team teacher plays every agent no student controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.data.store import TrajectoryStore
from hybrid.envs.team import TeamDecide, TeamEnv, TeamEpisode, as_team_env
from hybrid.errors import DataError
from hybrid.loop.rollouts import EpisodeReturns, Rollouts, episode_seeds, policy_actions
from hybrid.teachers.team import TeamTeacher, as_team_teacher


@dataclass(frozen=True)
class TeamClosedLoop(EpisodeReturns):
    """A team policy's closed-loop measurement: team return per episode, the episodes, and (given
    a teacher) how often each controlled agent's action agreed with the teacher's on the
    observations it met."""

    returns: np.ndarray
    episodes: list[TeamEpisode]
    agreement: float | None
    agent_agreement: dict[str, float] | None


def observation_names(team: TeamEnv, teacher: TeamTeacher | None) -> list[str] | None:
    """Names of one agent's observation: the teacher's feature names, or the known team's."""
    if teacher is not None and teacher.feature_names is not None:
        return list(teacher.feature_names)
    from hybrid.teachers.zoo import TEAM_TEACHERS

    known = TEAM_TEACHERS.get(team.env_id or "")
    return list(known["feature_names"]) if known and len(known["feature_names"]) == team.n_observations(team.agents[0]) else None


def team_actions(team: TeamEnv, policy: Any, teacher: TeamTeacher | None = None) -> Any:
    """Batch greedy team actions ``{agent: X[n, d]} -> {agent: int64[n]}`` of ``policy`` (see the
    module docstring); agents no student controls are played by ``teacher``."""
    if isinstance(policy, TeamTeacher):
        return policy.team_predict
    students: dict[str, Any]
    if isinstance(policy, Mapping):
        students = dict(policy)
        unknown = sorted(set(students) - set(team.agents))
        if unknown:
            raise DataError(f"students given for {unknown}, which are not agents of {team.env_id} ({list(team.agents)})")
    else:
        students = {a: policy for a in team.controlled}
    greedy = {id(s): policy_actions(s) for s in students.values()}
    partners = [a for a in team.agents if a not in students]
    if partners and teacher is None:
        raise DataError(f"agents {partners} have no student; pass the team teacher to play them (teacher=…)")
    groups: dict[int, list[str]] = {}
    for a, s in students.items():
        groups.setdefault(id(s), []).append(a)
    for agents in groups.values():
        team.check_shared(agents)

    def act(observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if partners:
            assert teacher is not None
            chosen = teacher.team_predict(observations)
            out.update({a: chosen[a] for a in partners})
        for key, agents in groups.items():  # one batched call per distinct student
            X = np.vstack([team.features(a, observations[a]) for a in agents])
            y = greedy[key](X).reshape(len(agents), -1)
            out.update({a: y[i] for i, a in enumerate(agents)})
        return out

    return act


def step_decider(actions: Any) -> TeamDecide:
    """One team step from batch team actions (each observation a 1-D array)."""
    return lambda obs: {a: int(x[0]) for a, x in actions({a: np.asarray(o)[None, :] for a, o in obs.items()}).items()}


def joint_observations(episodes: list[TeamEpisode]) -> dict[str, np.ndarray]:
    """Every agent's observations over ``episodes``, stacked step by step ``{agent: [Σ T, d]}``."""
    return {a: np.concatenate([e.observations[a] for e in episodes]) for a in episodes[0].observations}


def team_closed_loop(env: Any, policy: Any, episodes: int, seed: int, teacher: Any = None) -> TeamClosedLoop:
    """Roll ``policy`` out greedily (``None``: a uniformly random team); with a ``teacher``, also
    the controlled agents' agreement with it on the observations they met."""
    team, owned = as_team_env(env)
    try:
        team_teacher = None if teacher is None else as_team_teacher(teacher, team.agents)
        seeds = episode_seeds(seed, episodes)
        if policy is None:
            played = [team.random_episode(s) for s in seeds]
        else:
            played = team.run_episodes(step_decider(team_actions(team, policy, team_teacher)), seeds)
    finally:
        if owned:
            team.close()
    returns = np.array([e.team_return for e in played], dtype=np.float64)
    if team_teacher is None or policy is None:
        return TeamClosedLoop(returns, played, None, None)
    per_agent = agent_agreement(team, played, team_teacher, policy)
    total = sum(len(e) for e in played) * len(per_agent)
    overall = sum(v * sum(len(e) for e in played) for v in per_agent.values()) / total
    return TeamClosedLoop(returns, played, float(overall), per_agent)


def agent_agreement(team: TeamEnv, played: list[TeamEpisode], teacher: TeamTeacher, policy: Any) -> dict[str, float]:
    """Per controlled agent: the share of its steps in ``played`` where it acted as the teacher would."""
    wanted = teacher.team_predict(joint_observations(played))
    controlled = list(policy) if isinstance(policy, Mapping) else list(team.controlled)
    return {a: float(np.mean(np.concatenate([e.actions[a] for e in played]) == wanted[a])) for a in controlled}


def team_evaluate(env: Any, policy: Any, episodes: int = 10, seed: int = 0, teacher: Any = None) -> tuple[float, float]:
    """Mean and standard deviation of the greedy team return of ``policy`` (``None``: random team)."""
    result = team_closed_loop(env, policy, episodes, seed, teacher)
    return result.mean_return, result.std_return


def label_dataset(team: TeamEnv, teacher: TeamTeacher, played: list[TeamEpisode], meta: dict[str, Any] | None = None) -> DistillDataset:
    """The teacher's decisions for the controlled agents on every step of ``played``: one row per
    (step, agent), in episode, step, agent order, keyed by ``agent_ids``."""
    joint = joint_observations(played)
    P = teacher.team_proba(joint)
    agents = list(team.controlled)
    team.check_shared(agents)  # the rows of one dataset have one width
    n = len(joint[agents[0]])
    X = np.stack([team.features(a, joint[a]) for a in agents], axis=1).reshape(n * len(agents), -1)
    P_rows = np.stack([P[a] for a in agents], axis=1).reshape(n * len(agents), -1)
    ids = np.tile(np.array(agents, dtype=np.str_), n)
    names = team.feature_names(agents[0], observation_names(team, teacher))
    return DistillDataset(X, P_rows, teacher.action_names, names, meta=meta, agent_ids=ids)


def team_collect(env: Any, teacher: Any, episodes: int = 10, seed: int = 0, store: TrajectoryStore | None = None) -> Rollouts:
    """Roll the team teacher out greedily and return its decisions for the controlled agents as a
    dataset (``agent_ids`` set) with the team returns. With a ``store`` every decision is logged
    with its agent; the run id is in ``dataset.meta["run_id"]``."""
    team, owned = as_team_env(env)
    try:
        team_teacher = as_team_teacher(teacher, team.agents)
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
        meta["run_id"] = _log(store, team, team_teacher, dataset, played, seed)
        dataset = DistillDataset(dataset.X, dataset.P, dataset.action_names, dataset.feature_names, meta=meta, agent_ids=dataset.agent_ids)
    return Rollouts(dataset, np.array([e.team_return for e in played], dtype=np.float64))


def _log(store: TrajectoryStore, team: TeamEnv, teacher: TeamTeacher, dataset: DistillDataset, played: list[TeamEpisode], seed: int) -> int:
    """One run; each step row is one agent's decision at one time step, with its own reward."""
    agents = list(team.controlled)
    index = [team.agents.index(a) for a in agents]
    episode = np.concatenate([np.full(len(e) * len(agents), i) for i, e in enumerate(played)])
    actions = np.concatenate([np.stack([e.actions[a] for a in agents], axis=1).reshape(-1) for e in played])
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
    )
    assert dataset.agent_ids is not None
    store.log_steps(run_id, dataset.X, dataset.P, episode=episode, actions=actions, rewards=rewards, dones=dones, agents=dataset.agent_ids.tolist())
    return run_id


class TeamEpisodeRunner:
    """Team episodes for ``auto_search.closed_loop.PairedEpisodes``: greedy team returns of the
    teacher or of a student playing the controlled agents (the teacher plays the rest), a random
    team's, and a student's agreement with the teacher on the joint observations it met."""

    def __init__(self, env: Any, teacher: Any) -> None:
        self.team, self._owned = as_team_env(env)
        self.teacher = as_team_teacher(teacher, self.team.agents)

    def close(self) -> None:
        if self._owned:
            self.team.close()

    def returns(self, policy: Any, seeds: list[int]) -> tuple[list[float], list[TeamEpisode]]:
        """Team returns of ``policy`` (the teacher when it is the teacher) and the episodes played."""
        actions = team_actions(self.team, policy, self.teacher)
        played = self.team.run_episodes(step_decider(actions), seeds)
        return [e.team_return for e in played], played

    def random_return(self, seed: int) -> float:
        return self.team.random_episode(seed).team_return

    def agreement(self, student: Any, played: list[TeamEpisode]) -> float:
        per_agent = agent_agreement(self.team, played, self.teacher, student)
        return float(np.mean(list(per_agent.values())))
