"""Teams: PettingZoo parallel rollouts keyed by agent, team teachers, the store and dataset columns."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from _team_toy import SignTeam, centralised_sign, sign_teacher

from hybrid import DataError, DistillDataset, TeacherError, TrajectoryStore
from hybrid.envs.adapter import TeamEnv, is_team_env
from hybrid.loop.rollouts import team_closed_loop, team_collect, team_evaluate
from hybrid.teachers.team import TeamTeacher, as_team_teacher


class Recorder:
    """A student that says the sign of its first input and records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.seen.append(np.array(X))
        return (X[:, 0] > 0).astype(np.int64)


def test_a_gymnasium_env_is_not_a_team_and_the_error_names_the_fix() -> None:
    env = gym.make("CartPole-v1")
    assert not is_team_env(env)
    with pytest.raises(DataError, match="pettingzoo ParallelEnv.*aec_to_parallel"):
        TeamEnv(env)


def test_collect_keys_every_decision_by_agent_and_the_store_keeps_it(tmp_path) -> None:
    team = TeamEnv(SignTeam(), agent_features=True)
    with TrajectoryStore(tmp_path / "t.db") as store:
        rollouts = team_collect(team, sign_teacher, episodes=3, seed=0, store=store)
        loaded = store.to_dataset([rollouts.dataset.meta["run_id"]])
        rewards = store.episode_returns(rollouts.dataset.meta["run_id"])
    ds = rollouts.dataset
    assert len(ds) == 3 * 10 * 2 and ds.agent_ids is not None
    assert ds.agent_ids[:4].tolist() == ["agent_0", "agent_1", "agent_0", "agent_1"]
    assert ds.feature_names[-2:] == ("is_agent_0", "is_agent_1")
    np.testing.assert_array_equal(ds.X[ds.agent_ids == "agent_1", -1], 1.0)
    assert loaded.content_hash == ds.content_hash and loaded.agent_ids.tolist() == ds.agent_ids.tolist()
    np.testing.assert_allclose(rewards, rollouts.returns)  # the store holds every agent's reward
    assert rollouts.returns.max() == 20  # the sign teacher is right at every step for both agents


def test_agent_ids_survive_subset_concat_save_load_and_enter_the_hash(tmp_path) -> None:
    ds = team_collect(TeamEnv(SignTeam()), sign_teacher, episodes=2, seed=1).dataset
    plain = DistillDataset(ds.X, ds.P, ds.action_names, ds.feature_names)
    assert plain.agent_ids is None and plain.content_hash != ds.content_hash
    back = DistillDataset.load(ds.save(tmp_path / "d.npz"))
    assert back.content_hash == ds.content_hash
    assert ds.subset([1, 3]).agent_ids.tolist() == ["agent_1", "agent_1"]
    assert len(DistillDataset.concat([ds, ds]).agent_ids) == 2 * len(ds)
    with pytest.raises(DataError, match="no agent ids"):
        DistillDataset.concat([ds, plain])
    with pytest.raises(DataError, match="one non-empty agent name"):
        DistillDataset(ds.X, ds.P, ds.action_names, agent_ids=["a"])


def test_students_act_on_their_own_agents_features_only() -> None:
    student = Recorder()
    team = TeamEnv(SignTeam(), agent_features=True)
    result = team_closed_loop(team, student, episodes=2, seed=3, teacher=sign_teacher)
    assert result.returns.tolist() == [20.0, 20.0] and result.agreement == 1.0
    assert all(x.shape == (2, 4) for x in student.seen)  # two agents in one batch: own signal, the other's, one-hot id (2)
    assert set(result.agent_agreement) == {"agent_0", "agent_1"}


def test_paired_seeds_and_random_team_are_reproducible() -> None:
    team = TeamEnv(SignTeam())
    assert team_evaluate(team, None, 4, seed=9) == team_evaluate(team, None, 4, seed=9)
    random_mean, _ = team_evaluate(team, None, 20, seed=9)
    assert 5 < random_mean < 15  # a coin per decision: about half of 20


def test_per_agent_students_and_a_teacher_playing_partners() -> None:
    team = TeamEnv(SignTeam(), controlled=["agent_1"])
    flip = Recorder()
    flip.predict = lambda X: (X[:, 0] <= 0).astype(np.int64)  # always wrong
    result = team_closed_loop(team, flip, episodes=2, seed=0, teacher=sign_teacher)
    assert result.returns.tolist() == [10.0, 10.0]  # agent_0 (teacher) right, agent_1 (student) wrong
    both = team_closed_loop(TeamEnv(SignTeam()), {"agent_0": Recorder(), "agent_1": flip}, episodes=1, seed=0, teacher=sign_teacher)
    assert both.agent_agreement == {"agent_0": 1.0, "agent_1": 0.0}
    with pytest.raises(DataError, match="pass the team teacher"):
        team_closed_loop(team, flip, episodes=1, seed=0)


def test_a_shared_student_needs_equal_observation_sizes() -> None:
    team = TeamEnv(SignTeam(obs_sizes=[2, 3]))
    with pytest.raises(DataError, match="different numbers of values.*one student per agent"):
        team_closed_loop(team, Recorder(), episodes=1, seed=0)
    per_agent = team_closed_loop(team, {"agent_0": Recorder(), "agent_1": Recorder()}, episodes=1, seed=0)
    assert per_agent.returns.tolist() == [20.0]


def test_team_teacher_kinds_share_one_contract() -> None:
    agents = ["agent_0", "agent_1"]
    shared = as_team_teacher(sign_teacher, agents)
    per_agent = as_team_teacher({"agent_0": sign_teacher, "agent_1": sign_teacher}, agents)
    obs = {a: np.random.default_rng(i).uniform(-1, 1, (5, 2)).astype(np.float32) for i, a in enumerate(agents)}
    for a in agents:
        np.testing.assert_allclose(shared.team_proba(obs)[a], per_agent.team_proba(obs)[a])
    assert (shared.kind, per_agent.kind) == ("shared", "per_agent")
    central = centralised_sign(mix=1.0)
    with pytest.raises(TeacherError, match="centralised.*no one-agent view"):
        central.for_agent("agent_0")
    bad = TeamTeacher.centralised(lambda X: np.ones((len(X), 2)), agents, ["no", "yes"])
    with pytest.raises(TeacherError, match=r"returned shape \(5, 2\).*\[n, 2, 2\]"):
        bad.team_proba(obs)
    with pytest.raises(TeacherError, match="also has"):
        as_team_teacher({"agent_0": sign_teacher}, agents)


def test_the_single_agent_entry_points_take_a_team_too() -> None:
    from hybrid import closed_loop, collect, evaluate

    team = TeamEnv(SignTeam())
    rollouts = collect(team, sign_teacher, episodes=2, seed=0)
    assert rollouts.dataset.agent_ids is not None and rollouts.returns.tolist() == [20.0, 20.0]
    assert closed_loop(team, Recorder(), 2, 0, teacher=sign_teacher).agent_agreement == {"agent_0": 1.0, "agent_1": 1.0}
    assert evaluate(team, Recorder(), 2, 0) == (20.0, 0.0)
    with pytest.raises(DataError, match="sample and weighting are for one agent"):
        collect(team, sign_teacher, episodes=1, sample=True)


def test_a_team_with_continuous_actions_collects_stores_and_scores_vectors(tmp_path) -> None:
    spread = pytest.importorskip("mpe2.simple_spread_v3")
    from hybrid.spaces import BoxActions
    from hybrid.teachers.team import spread_controller

    team = TeamEnv(spread.parallel_env(N=3, max_cycles=25, continuous_actions=True))
    assert all(isinstance(s, BoxActions) and s.n == 5 for s in team.spaces.values())
    controller = spread_controller()
    with TrajectoryStore(tmp_path / "t.db") as store:
        rollouts = team_collect(team, controller, episodes=2, seed=0, store=store)
        loaded = store.to_dataset([rollouts.dataset.meta["run_id"]])
    ds = rollouts.dataset
    assert ds.action_kind == "continuous" and ds.P.shape == (2 * 25 * 3, 5) and ds.agent_ids is not None
    assert ds.action_names == controller.action_names and ((ds.P >= 0) & (ds.P <= 1)).all()
    assert loaded.content_hash == ds.content_hash
    played = team_closed_loop(team, controller, episodes=2, seed=0)
    np.testing.assert_array_equal(played.returns, rollouts.returns)  # the same seeds, the same episodes
    assert played.episodes[0].actions["agent_0"].shape == (25, 5)
    random_mean, _ = team_evaluate(team, None, 2, seed=0)
    assert rollouts.returns.mean() > random_mean  # the controller spreads the agents over the landmarks
    idle = type("Idle", (), {"predict": staticmethod(lambda X: np.zeros((len(X), 5), dtype=np.float32))})()
    still = team_closed_loop(team, idle, episodes=1, seed=0, teacher=controller)
    assert still.episodes[0].actions["agent_1"].max() == 0.0 and 0.0 <= still.agreement < 0.5  # within 5% of the controller's push only where it rests
