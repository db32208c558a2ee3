"""The committed PPO teachers: faithful to SB3, strong in their environment, and tamper-evident."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from hybrid.errors import DataError, TeacherError
from hybrid.teachers.zoo import ZOO_DIR, PolicyTeacher, available_teachers, load_teacher, read_index, teacher_world

TEACHERS = available_teachers(action_kind="discrete")  # continuous ones: test_zoo_continuous.py


def greedy_returns(teacher: PolicyTeacher, episodes: int, seed: int) -> np.ndarray:
    """Returns of the teacher's argmax policy, episode ``i`` reset with ``seed + i``."""
    env_id, kwargs = teacher_world(teacher.env_id)  # a variant (e.g. LunarLander-v3-wind15) names its own world
    env = gym.make(env_id, **kwargs)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(teacher.predict(obs)[0]))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.asarray(returns)


def test_all_three_teachers_and_the_windy_variant_are_committed() -> None:
    assert TEACHERS == ["Acrobot-v1", "CartPole-v1", "LunarLander-v3", "LunarLander-v3-wind15"]
    assert teacher_world("LunarLander-v3-wind15") == ("LunarLander-v3", {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5})
    assert teacher_world("CartPole-v1") == ("CartPole-v1", {})


@pytest.mark.parametrize("env_id", TEACHERS)
def test_reproduces_sb3_probabilities_on_probe_states(env_id: str) -> None:
    teacher = load_teacher(env_id)
    probes = read_index()[env_id]["probes"]
    states = np.asarray(probes["states"], dtype=np.float32)
    expected = np.asarray(probes["sb3_probabilities"])
    got = teacher.predict_proba(states)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("env_id", TEACHERS)
def test_interface_matches_environment_and_index(env_id: str) -> None:
    teacher = load_teacher(env_id)
    entry = read_index()[env_id]
    world, kwargs = teacher_world(env_id)
    env = gym.make(world, **kwargs)
    assert len(teacher.feature_names) == env.observation_space.shape[0]
    assert len(teacher.action_names) == env.action_space.n
    assert teacher.env_id == env_id
    assert teacher.content_hash == entry["sha256"]
    assert teacher.ops_per_decision == entry["ops_per_decision"]
    assert isinstance(teacher, torch.nn.Module)
    env.observation_space.seed(0)
    X = np.stack([env.observation_space.sample() for _ in range(32)])
    logits = teacher(torch.from_numpy(X.astype(np.float32))).numpy()
    np.testing.assert_array_equal(teacher.predict(X), logits.argmax(axis=1))
    np.testing.assert_allclose(np.exp(teacher.log_proba(X)), teacher.predict_proba(X), rtol=1e-5)


def test_ops_per_decision_counts_linear_layers() -> None:
    # SB3's default policy for CartPole: 4 -> 64 -> 64 -> 2.
    assert load_teacher("CartPole-v1").ops_per_decision == 4 * 64 + 64 * 64 + 64 * 2


def test_cartpole_teacher_balances_the_pole() -> None:
    returns = greedy_returns(load_teacher("CartPole-v1"), episodes=10, seed=7)
    assert returns.mean() >= 475


@pytest.mark.slow
@pytest.mark.parametrize("env_id", [e for e in TEACHERS if e != "CartPole-v1"])
def test_teacher_meets_its_recorded_target(env_id: str) -> None:
    entry = read_index()[env_id]
    returns = greedy_returns(load_teacher(env_id), episodes=20, seed=7)
    # a teacher that missed its target says so in index.json; it must still hold its recorded return
    floor = entry["target_return"] if entry["return_mean"] >= entry["target_return"] else entry["return_mean"] - 3 * entry["return_std"] / np.sqrt(20)
    assert returns.mean() >= floor


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    shutil.copytree(ZOO_DIR, tmp_path / "zoo")
    path = tmp_path / "zoo" / "CartPole-v1.npz"
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["layer0.bias"][0] += 1e-3
    np.savez(path, **arrays)
    with pytest.raises(TeacherError, match="index.json records"):
        load_teacher("CartPole-v1", tmp_path / "zoo")


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(TeacherError, match="CartPole-v1") as info:
        load_teacher("Pong-v5")
    assert "Pong-v5" in str(info.value)


def test_rejects_states_of_the_wrong_width() -> None:
    with pytest.raises(DataError, match="cart_position"):
        load_teacher("CartPole-v1").predict_proba(np.zeros((3, 5)))


def test_the_training_script_declares_the_windy_variant_over_the_same_recipe() -> None:
    import importlib.util

    examples = ZOO_DIR.parents[2] / "examples"
    sys.path.insert(0, str(examples))  # the script imports its shared training module from beside it
    spec = importlib.util.spec_from_file_location("train_teachers", examples / "train_teachers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    windy, nominal = module.CONFIGS["LunarLander-v3-wind15"], module.CONFIGS["LunarLander-v3"]
    assert windy.env_id == nominal.env_id and windy.hyperparameters == nominal.hyperparameters and windy.key == "LunarLander-v3-wind15"
    assert windy.env_kwargs == {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5} and nominal.env_kwargs == {}
