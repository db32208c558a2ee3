"""The committed continuous-action teachers: faithful to SB3, bounded, strong, tamper-evident."""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from hybrid import as_teacher
from hybrid.errors import TeacherError
from hybrid.teachers.zoo import ContinuousPolicyTeacher, available_teachers, load_teacher, read_index

TEACHERS = available_teachers(action_kind="continuous")


def test_continuous_teachers_are_committed() -> None:
    assert "Pendulum-v1" in TEACHERS
    assert set(TEACHERS).isdisjoint(available_teachers(action_kind="discrete"))


@pytest.mark.parametrize("env_id", TEACHERS)
def test_reproduces_sb3_deterministic_actions_on_probe_states(env_id: str) -> None:
    teacher = load_teacher(env_id)
    probes = read_index()[env_id]["probes"]
    got = teacher.predict(np.asarray(probes["states"], dtype=np.float32))
    np.testing.assert_allclose(got, np.asarray(probes["sb3_actions"]), atol=1e-5)


@pytest.mark.parametrize("env_id", TEACHERS)
def test_actions_stay_within_the_environment_bounds(env_id: str) -> None:
    teacher = load_teacher(env_id)
    entry, env = read_index()[env_id], gym.make(env_id)
    assert isinstance(teacher, ContinuousPolicyTeacher) and teacher.content_hash == entry["sha256"]
    np.testing.assert_array_equal(teacher.action_low, env.action_space.low)
    np.testing.assert_array_equal(teacher.action_high, env.action_space.high)
    assert teacher.ops_per_decision == entry["ops_per_decision"]
    X = np.random.default_rng(0).normal(scale=20.0, size=(500, len(teacher.feature_names))).astype(np.float32)
    A = teacher.predict(X)
    assert A.shape == (500, env.action_space.shape[0]) and A.dtype == np.float32
    assert (A >= env.action_space.low).all() and (A <= env.action_space.high).all()
    adapted = as_teacher(teacher)
    np.testing.assert_array_equal(adapted.predict(X), A)
    std = teacher.action_std(X)
    assert std is None or (std.shape == A.shape and (std >= 0).all())


def test_pendulum_teacher_swings_up() -> None:
    teacher = load_teacher("Pendulum-v1")
    env = gym.make("Pendulum-v1")
    returns = []
    for i in range(5):
        obs, _ = env.reset(seed=500 + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(teacher.predict(obs)[0])
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    assert np.mean(returns) >= read_index()["Pendulum-v1"]["target_return"] * 1.5  # far above a do-nothing policy


def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    zoo = Path(load_teacher.__globals__["ZOO_DIR"])
    shutil.copy(zoo / "index.json", tmp_path / "index.json")
    data = dict(np.load(zoo / "Pendulum-v1.npz"))
    data["layer0.bias"] = data["layer0.bias"] + 1e-3
    np.savez(tmp_path / "Pendulum-v1.npz", **data)
    with pytest.raises(TeacherError, match="weights were changed"):
        load_teacher("Pendulum-v1", tmp_path)
