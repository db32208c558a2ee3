"""Rollouts: collect teacher decisions in gymnasium, evaluate any policy, reproducibly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from hybrid.data.store import TrajectoryStore
from hybrid.envs.adapter import episode_seeds
from hybrid.errors import DataError
from hybrid.loop.rollouts import closed_loop, collect, evaluate
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.zoo import load_teacher


@pytest.fixture(scope="module")
def cartpole_teacher():
    return load_teacher("CartPole-v1")


class Uniform:
    """A policy known only through its probabilities: every action equally likely."""

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def test_collect_labels_every_visited_state_with_the_teachers_probabilities(cartpole_teacher):
    ds, returns = collect("CartPole-v1", cartpole_teacher, episodes=2, seed=0)
    assert len(ds) == returns.sum()  # CartPole pays 1 per step
    np.testing.assert_allclose(ds.P, as_teacher(cartpole_teacher).predict_proba(ds.X), rtol=1e-6, atol=1e-6)  # one row vs a batch: float32 rounding
    assert ds.feature_names == tuple(cartpole_teacher.feature_names)
    assert ds.meta["env"] == "CartPole-v1" and ds.weights is None


def test_same_seed_same_data_and_another_seed_other_data(cartpole_teacher):
    a = collect("CartPole-v1", cartpole_teacher, episodes=2, seed=5, sample=True).dataset
    b = collect("CartPole-v1", cartpole_teacher, episodes=2, seed=5, sample=True).dataset
    c = collect("CartPole-v1", cartpole_teacher, episodes=2, seed=6, sample=True).dataset
    assert a.content_hash == b.content_hash != c.content_hash


def test_greedy_collect_and_evaluate_see_the_same_episodes(cartpole_teacher):
    _, returns = collect(gym.make("CartPole-v1"), cartpole_teacher, episodes=3, seed=1)
    mean, std = evaluate("CartPole-v1", cartpole_teacher, 3, seed=1)
    assert (mean, std) == (returns.mean(), returns.std())
    assert mean >= 475


def test_sampling_the_teacher_differs_from_acting_greedily(cartpole_teacher):
    greedy = collect("CartPole-v1", cartpole_teacher, episodes=1, seed=0)
    sampled = collect("CartPole-v1", cartpole_teacher, episodes=1, seed=0, sample=True)
    assert greedy.dataset.content_hash != sampled.dataset.content_hash


def test_evaluate_takes_students_probability_models_and_teachers(cartpole_teacher):
    random_mean, _ = evaluate("CartPole-v1", Uniform(), 5, seed=0)
    teacher_mean, _ = evaluate("CartPole-v1", as_teacher(cartpole_teacher), 5, seed=0)
    assert random_mean < 50 < teacher_mean


def test_evaluate_takes_an_sb3_model_whose_predict_returns_a_tuple():
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    mean, _ = evaluate("CartPole-v1", model, 2, seed=0)
    assert mean == evaluate("CartPole-v1", as_teacher(model), 2, seed=0)[0]


def test_closed_loop_agreement_is_measured_on_the_policys_own_states(cartpole_teacher):
    own = closed_loop("CartPole-v1", cartpole_teacher, 2, seed=0, teacher=cartpole_teacher)
    uniform = closed_loop("CartPole-v1", Uniform(), 2, seed=0, teacher=cartpole_teacher)
    assert own.agreement == 1.0
    expected = np.mean(np.argmax(Uniform().predict_proba(uniform.states), axis=1) == cartpole_teacher.predict(uniform.states))
    assert uniform.agreement == pytest.approx(expected)
    assert len(uniform.states) == uniform.returns.sum()


def test_the_seed_style_toy_teacher_rolls_out_in_a_custom_env(toy_teacher, line_world, tmp_path):
    store = TrajectoryStore(tmp_path / "s.db")
    ds, returns = collect(line_world, toy_teacher, episodes=3, seed=0, store=store, weighting="margin")
    assert ds.action_names == ("move_left", "move_right", "stay") and len(ds) == 60
    assert ds.weights.mean() == pytest.approx(1.0) and ds.meta["weighting"] == "margin"
    np.testing.assert_allclose(store.episode_returns(ds.meta["run_id"]), returns, rtol=1e-6)
    assert store.to_dataset().content_hash == ds.with_weights(None).content_hash


def test_episode_seeds_are_distinct_and_reproducible():
    seeds = episode_seeds(0, 100)
    assert len(set(seeds)) == 100 and seeds == episode_seeds(0, 100) and seeds[:5] == episode_seeds(0, 5)
    with pytest.raises(DataError, match="episodes must be ≥ 1"):
        episode_seeds(0, 0)


def test_environments_that_cannot_be_distilled_are_refused(cartpole_teacher, toy_teacher):
    with pytest.raises(DataError, match="Discrete action spaces"):
        collect("Pendulum-v1", cartpole_teacher, episodes=1)
    with pytest.raises(DataError, match="has 2 actions but teacher"):
        collect("CartPole-v1", as_teacher(lambda X: np.full((len(X), 3), 1 / 3)), episodes=1)
    with pytest.raises(DataError, match="cannot make environment 'NoSuchEnv-v0'"):
        evaluate("NoSuchEnv-v0", cartpole_teacher)
    with pytest.raises(DataError, match="gymnasium id string or a gymnasium.Env"):
        evaluate(42, cartpole_teacher)


class _Counted(gym.Env):
    """An environment that cannot be copied faithfully: its first observation counts the instances made."""

    made = 0

    def __init__(self):
        type(self).made += 1
        self.id = type(self).made
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def __deepcopy__(self, memo):
        return _Counted()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([self.id], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.id], dtype=np.float32), float(action), False, self.t >= 3, {}


def test_lockstep_episodes_are_the_episodes_run_one_after_another(cartpole_teacher):
    from hybrid.envs.adapter import env_copies, run_episodes, run_episodes_batched

    env = gym.make("CartPole-v1")
    seeds = episode_seeds(3, 7)
    teacher = as_teacher(cartpole_teacher)
    copies = env_copies(env, 3)
    assert copies is not None and len(copies) == 3
    batched_states, batched_rewards = run_episodes_batched(copies, teacher.predict, seeds)  # 7 episodes through 3 copies
    states, rewards = run_episodes(env, lambda x: teacher.predict(x[None, :])[0], seeds)
    assert batched_rewards == rewards
    for a, b in zip(batched_states, states, strict=True):
        np.testing.assert_array_equal(a, b)


class _AlwaysOne:
    def predict(self, X):
        return np.ones(len(X), dtype=np.int64)


def test_an_environment_that_cannot_be_copied_runs_its_episodes_in_turn():
    from hybrid.envs.adapter import env_copies
    from hybrid.loop.runners import AgentRunner

    assert env_copies(_Counted(), 2) is None  # its copies would start elsewhere
    runner = AgentRunner(_Counted(), None)
    returns, states = runner.returns(_AlwaysOne(), episode_seeds(0, 4))
    assert returns == [3.0] * 4 and len({float(s[0, 0]) for s in states}) == 1  # one environment played them all
