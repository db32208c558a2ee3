"""What a policy does in an environment, and what the teacher says about it, keyed by agent.

A *policy* here is a fitted student (``predict``), a teacher or anything ``as_teacher`` adapts;
in a team it is a ``TeamTeacher`` (it decides for everyone), one student shared by the
controlled agents, or a mapping ``{agent: student}`` — students act only on their own agent's
features (``TeamEnv.features``) and the team teacher plays every agent no student controls.

An *episode runner* is what closed-loop scoring and DAgger need of an environment, the same for
one agent (``AgentRunner``, gymnasium) and a team (``TeamRunner``, PettingZoo): greedy returns
of a policy on seeded episodes, a uniformly random policy's return, a student's agreement with
the teacher on the states it visited, and the teacher-labelled states of a β-mixture of teacher
and student (DAgger). The ``ActionSpace`` of the environment turns actions into what its
``step`` takes and says when two actions agree, so nothing here branches on the kind of action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import (
    TeamDecide,
    TeamEnv,
    TeamEpisode,
    as_team_env,
    env_action_space,
    env_copies,
    is_team_env,
    make_env,
    run_episodes,
    run_episodes_batched,
)
from hybrid.errors import DataError
from hybrid.spaces import ActionSpace
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.sb3 import is_sb3_model
from hybrid.teachers.team import TeamTeacher, as_team_teacher


def policy_actions(policy: Any, space: ActionSpace, gym_space: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    """Batch greedy actions ``X[n, d] -> int64[n]`` (a ``Box``: ``float32[n, m]``) of a student
    (``predict``) or of anything ``as_teacher`` adapts (``gym_space``: the environment's space,
    which a plain callable needs to act in a ``Box``)."""
    if callable(getattr(policy, "predict", None)) and not is_sb3_model(policy):  # SB3's predict returns a tuple
        return space.actions_of(policy)
    return as_teacher(policy, action_space=gym_space).predict


def team_teacher_of(team: TeamEnv, teacher: Any) -> TeamTeacher:
    """``teacher`` adapted to decide for every agent of ``team`` in its action space."""
    return as_team_teacher(teacher, team.agents, team.action_space(team.agents[0]))


def team_actions(team: TeamEnv, policy: Any, teacher: TeamTeacher | None = None) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """Batch greedy team actions ``{agent: X[n, d]} -> {agent: actions[n]}`` of ``policy`` (see the
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
    groups: dict[int, list[str]] = {}
    for a, s in students.items():
        groups.setdefault(id(s), []).append(a)
    greedy = {key: policy_actions(students[agents[0]], team.spaces[agents[0]]) for key, agents in groups.items()}
    partners = [a for a in team.agents if a not in students]
    if partners and teacher is None:
        raise DataError(f"agents {partners} have no student; pass the team teacher to play them (teacher=…)")
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
            out.update(zip(agents, np.split(greedy[key](X), len(agents))))
        return out

    return act


def step_decider(actions: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]) -> TeamDecide:
    """One team step from batch team actions (each observation a 1-D array)."""
    return lambda obs: {a: x[0] for a, x in actions({a: np.asarray(o)[None, :] for a, o in obs.items()}).items()}


def joint_observations(episodes: list[TeamEpisode]) -> dict[str, np.ndarray]:
    """Every agent's observations over ``episodes``, stacked step by step ``{agent: [Σ T, d]}``."""
    return {a: np.concatenate([e.observations[a] for e in episodes]) for a in episodes[0].observations}


def agent_agreement(team: TeamEnv, played: list[TeamEpisode], teacher: TeamTeacher, policy: Any) -> dict[str, float]:
    """Per controlled agent: the share of its steps in ``played`` where it acted as the teacher would."""
    wanted = teacher.team_predict(joint_observations(played))
    controlled = list(policy) if isinstance(policy, Mapping) else list(team.controlled)
    return {a: float(np.mean(team.spaces[a].agrees(wanted[a], np.concatenate([e.actions[a] for e in played])))) for a in controlled}


def observation_names(team: TeamEnv, teacher: TeamTeacher | None) -> list[str] | None:
    """Names of one agent's observation: the teacher's feature names, or the known team's."""
    if teacher is not None and teacher.feature_names is not None:
        return list(teacher.feature_names)
    from hybrid.teachers.zoo import TEAM_TEACHERS  # lazily: the zoo imports torch

    known = TEAM_TEACHERS.get(team.env_id or "")
    return list(known["feature_names"]) if known and len(known["feature_names"]) == team.n_observations(team.agents[0]) else None


def label_dataset(team: TeamEnv, teacher: TeamTeacher, played: list[TeamEpisode], meta: dict[str, Any] | None = None) -> DistillDataset:
    """The teacher's decisions for the controlled agents on every step of ``played``: one row per
    (step, agent), in episode, step, agent order, keyed by ``agent_ids``."""
    joint = joint_observations(played)
    targets = teacher.team_targets(joint)
    agents = list(team.controlled)
    team.check_shared(agents)  # the rows of one dataset have one width
    n = len(joint[agents[0]])
    X = np.stack([team.features(a, joint[a]) for a in agents], axis=1).reshape(n * len(agents), -1)
    rows = np.stack([targets[a] for a in agents], axis=1).reshape(n * len(agents), -1)
    ids = np.tile(np.array(agents, dtype=np.str_), n)
    names = team.feature_names(agents[0], observation_names(team, teacher))
    return DistillDataset(X, rows, teacher.action_names, names, meta=meta, agent_ids=ids, **teacher.action_space.dataset_args())


def check_team_dataset(team: TeamEnv, dataset: Any) -> None:
    """Refuse a dataset whose rows are not this team view's student features (their width)."""
    agent = team.controlled[0]
    width = team.features(agent, np.zeros(team.n_observations(agent))).shape[1]
    n_features = int(np.shape(dataset.X)[1])
    if n_features != width:
        hint = "agent_features=True" if n_features == width + len(team.agents) else "agent_features=False" if width > n_features else "the same TeamEnv"
        raise DataError(
            f"the dataset has {n_features} features but a student of {team.env_id} here sees {width} "
            f"(observation{' + one-hot agent id' if team.agent_features else ''}); collect and search with the same view, e.g. TeamEnv(…, {hint})"
        )


def team_search_teacher(env: Any, teacher: Any, data: Any) -> TeamTeacher:
    """The team teacher a search in team ``env`` scores against, after checking that the
    searched rows (``data.X``) are this team view's student features."""
    team, owned = as_team_env(env)
    try:
        check_team_dataset(team, data)
        return team_teacher_of(team, teacher)
    finally:
        if owned:
            team.close()


class AgentRunner:
    """Episodes of one agent in a gymnasium environment (see the module docstring)."""

    lockstep = 32  # episodes run side by side when the environment can be copied (run_episodes_batched)

    def __init__(self, env: Any, teacher: Any) -> None:
        self.env, self._owned = make_env(env)
        self.space = env_action_space(self.env)
        self.teacher = None if teacher is None else as_teacher(teacher, action_space=self.env.action_space)
        self._copies: list[Any] | None = None
        self._copied = False

    def close(self) -> None:
        for c in self._copies or []:
            c.close()
        if self._owned:
            self.env.close()

    def _lockstep_envs(self) -> list[Any] | None:
        if not self._copied:
            self._copies, self._copied = env_copies(self.env, self.lockstep), True
        return self._copies

    def actions(self, policy: Any) -> Callable[[np.ndarray], np.ndarray]:
        return policy_actions(policy, self.space, self.env.action_space)

    def returns(self, policy: Any, seeds: list[int]) -> tuple[list[float], list[np.ndarray]]:
        """Greedy returns of ``policy`` per episode, and the states it visited."""
        greedy = self.actions(policy)
        envs = self._lockstep_envs() if len(seeds) > 1 else None
        if envs:
            states, rewards = run_episodes_batched(envs, greedy, seeds)
        else:
            states, rewards = run_episodes(self.env, lambda x: greedy(x[None, :])[0], seeds)
        return [float(sum(r)) for r in rewards], states

    def random_return(self, seed: int) -> float:
        self.env.action_space.seed(seed)
        _, rewards = run_episodes(self.env, lambda x: self.env.action_space.sample(), [seed])
        return float(sum(rewards[0]))

    def agreement(self, student: Any, states: list[np.ndarray]) -> float:
        """Agreement of ``student`` with the teacher on the visited ``states`` (within tolerance for a Box)."""
        assert self.teacher is not None
        X = np.concatenate(states)
        return self.space.fidelity(self.teacher.predict(X), self.actions(student)(X))

    def mixture(self, student: Any, beta: float, seeds: list[int], rng: np.random.Generator, like: DistillDataset) -> DistillDataset:
        """States visited when, at each step, the teacher acts with probability ``beta`` and the
        student otherwise (one draw of ``rng`` per step), labelled by the teacher under ``like``'s names."""
        assert self.teacher is not None
        student_actions, teacher_actions = self.actions(student), self.teacher.predict

        def act(x: np.ndarray) -> Any:
            chosen = teacher_actions if rng.random() < beta else student_actions
            return chosen(x[None, :])[0]

        states, _ = run_episodes(self.env, act, seeds)
        return self.label(np.concatenate(states), like)

    def label(self, X: np.ndarray, like: DistillDataset) -> DistillDataset:
        """The teacher's targets on new states, under the names (and space) of the data they join."""
        assert self.teacher is not None
        targets = self.teacher.targets(X)
        if targets.shape[1] != like.n_actions or X.shape[1] != like.n_features:
            raise DataError(
                f"the teacher gives {targets.shape[1]} actions on {X.shape[1]} features here, but the dataset has "
                f"{like.n_actions} and {like.n_features}; use the teacher of this environment"
            )
        std = None if like.action_std is None else self.teacher.action_std(X)
        return DistillDataset(X, targets, like.action_names, like.feature_names, **like.action_space.dataset_args(std))

    def check_dataset(self, dataset: DistillDataset) -> None:
        """Refuse a dataset of another environment, or a teacher that does not fit it, before any rollout."""
        n_features = int(np.prod(self.env.observation_space.shape or ()))
        if (dataset.n_features, dataset.n_actions) != (n_features, self.space.n):
            raise DataError(
                f"the dataset has {dataset.n_features} features and {dataset.n_actions} actions but the environment "
                f"{n_features} and {self.space.n}; pass a dataset collected in this environment"
            )
        self.label(dataset.X[:1], dataset)


class TeamRunner:
    """Team episodes (see the module docstring): the student plays the controlled agents, the
    team teacher the rest; the return is the team's."""

    def __init__(self, env: Any, teacher: Any) -> None:
        self.team, self._owned = as_team_env(env)
        self.teacher = None if teacher is None else team_teacher_of(self.team, teacher)

    def close(self) -> None:
        if self._owned:
            self.team.close()

    def returns(self, policy: Any, seeds: list[int]) -> tuple[list[float], list[TeamEpisode]]:
        """Team returns of ``policy`` (``None``: a uniformly random team) and the episodes played."""
        if policy is None:
            played = [self.team.random_episode(s) for s in seeds]
        else:
            played = self.team.run_episodes(step_decider(team_actions(self.team, policy, self.teacher)), seeds)
        return [e.team_return for e in played], played

    def random_return(self, seed: int) -> float:
        return self.team.random_episode(seed).team_return

    def agent_agreement(self, student: Any, played: list[TeamEpisode]) -> dict[str, float]:
        assert self.teacher is not None
        return agent_agreement(self.team, played, self.teacher, student)

    def agreement(self, student: Any, played: list[TeamEpisode]) -> float:
        return float(np.mean(list(self.agent_agreement(student, played).values())))

    def mixture(self, student: Any, beta: float, seeds: list[int], rng: np.random.Generator, like: DistillDataset) -> DistillDataset:
        """Rows of a β-mixture: each controlled agent acts by the teacher with probability ``beta``
        at each step (one draw per controlled agent, in team order), by the student otherwise;
        the teacher labels every controlled agent's observation from the *joint* observations."""
        teacher = self.teacher
        assert teacher is not None
        team, greedy = self.team, team_actions(self.team, student, teacher)

        def decide(obs: Mapping[str, np.ndarray]) -> dict[str, Any]:
            batch = {a: np.asarray(o)[None, :] for a, o in obs.items()}
            by_student = greedy(batch)
            by_teacher = teacher.team_predict(batch)
            return {a: (by_teacher if a not in team.controlled or rng.random() < beta else by_student)[a][0] for a in team.agents}

        labelled = label_dataset(team, teacher, team.run_episodes(decide, seeds))
        if labelled.feature_names != like.feature_names and like.feature_names is not None:
            raise DataError(f"DAgger rows are named {labelled.feature_names} but the dataset {like.feature_names}; collect with the same TeamEnv view")
        ids = labelled.agent_ids if like.agent_ids is not None else None
        return DistillDataset(labelled.X, labelled.P, like.action_names, like.feature_names, agent_ids=ids, **like.action_space.dataset_args())

    def check_dataset(self, dataset: DistillDataset) -> None:
        check_team_dataset(self.team, dataset)


def episode_runner(env: Any, teacher: Any) -> AgentRunner | TeamRunner:
    """The runner of ``env``: a team (a PettingZoo parallel env, a ``TeamEnv``, a known team id) or one agent."""
    return TeamRunner(env, teacher) if is_team_env(env) else AgentRunner(env, teacher)
