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
