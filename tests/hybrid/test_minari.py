"""Minari datasets both ways, on datasets the tests record locally with minari.DataCollector."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

minari = pytest.importorskip("minari")
pytest.importorskip("jax")  # DataCollector needs minari[create]

from hybrid import DataError, TrajectoryStore, collect, from_minari, load_teacher, to_minari  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def local_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


def _record(env_id: str, dataset_id: str, episodes: int = 3, **make: object) -> object:
    env = minari.DataCollector(gym.make(env_id, **make), data_format="arrow")
    env.action_space.seed(0)
    for seed in range(episodes):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            done = term or trunc
    return env.create_dataset(dataset_id, algorithm_name="random", author="tests", author_email="tests@example.org")


def test_a_discrete_dataset_gives_every_observation_and_action_as_labels():
    ds = _record("CartPole-v1", "tests/cartpole-random-v0")
    data = from_minari(ds)
    episodes = list(ds.iterate_episodes())
    assert len(data) == ds.total_steps == sum(len(e.actions) for e in episodes)
    np.testing.assert_array_equal(data.X, np.concatenate([e.observations[:-1] for e in episodes]).astype(np.float32))
    np.testing.assert_array_equal(data.labels, np.concatenate([e.actions for e in episodes]))
    assert data.meta["rows"]["episode"]["names"] == ["0", "1", "2"]
    assert from_minari("tests/cartpole-random-v0").content_hash == data.content_hash  # by local id too


def test_a_teacher_relabels_offline_states_with_its_probabilities():
    ds = _record("CartPole-v1", "tests/cartpole-relabel-v0", episodes=2)
    teacher = load_teacher("CartPole-v1")
    data = from_minari(ds, teacher)
    np.testing.assert_allclose(data.P, teacher.predict_proba(data.X), rtol=1e-6)
    assert data.action_names == tuple(teacher.action_names) or list(data.action_names) == list(teacher.action_names)


def test_a_box_dataset_keeps_actions_and_bounds():
    ds = _record("Pendulum-v1", "tests/pendulum-random-v0", episodes=1, max_episode_steps=40)
    data = from_minari(ds)
    assert data.action_kind == "continuous" and len(data) == 40
    np.testing.assert_allclose(data.P, np.concatenate([e.actions for e in ds.iterate_episodes()]), rtol=1e-6)


def test_rollouts_to_minari_to_dataset_keep_every_observation_and_action(tmp_path):
    store = TrajectoryStore(tmp_path / "rollouts.db")
    rollouts = collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=3, seed=1, store=store)
    written = to_minari(rollouts, "tests/ours-v0")
    assert written.total_episodes == 3 and written.spec.env_spec.id == "CartPole-v1"
    back = from_minari(minari.load_dataset("tests/ours-v0"), action_names=rollouts.dataset.action_names)
    np.testing.assert_array_equal(back.X, rollouts.dataset.X)
    np.testing.assert_array_equal(back.labels, rollouts.dataset.labels)
    returns = [float(np.sum(e.rewards)) for e in written.iterate_episodes()]
    np.testing.assert_allclose(returns, rollouts.returns)
    also = to_minari(store, "tests/ours-store-v0")  # a store works the same
    assert also.total_steps == len(rollouts.dataset)


def test_an_action_space_neither_discrete_nor_box_is_refused():
    env = minari.DataCollector(gym.make("Blackjack-v1"), data_format="arrow")  # Discrete actions, Tuple observations
    env.reset(seed=0)
    env.step(0)
    ds = env.create_dataset("tests/blackjack-v0", algorithm_name="x", author="t", author_email="t@example.org")
    with pytest.raises(DataError, match="Tuple observation space; states must be a Box"):
        from_minari(ds)

    class MultiBinaryDataset:  # what a MinariDataset of MultiBinary actions shows from_minari
        action_space = gym.spaces.MultiBinary(3)
        observation_space = gym.spaces.Box(-1, 1, (2,))

        class spec:
            dataset_id = "tests/multibinary-v0"

    with pytest.raises(DataError, match="MultiBinary action space; only Discrete and Box actions distil"):
        from_minari(MultiBinaryDataset())


def test_to_minari_needs_logged_episodes():
    with pytest.raises(DataError, match="roll out with hybrid.collect"):
        to_minari(object(), "tests/none-v0")
