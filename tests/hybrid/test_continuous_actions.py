"""Continuous actions through teachers, datasets, the store, ingest, rollouts and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from hybrid import DistillDataset, TrajectoryStore, as_teacher, collect, evaluate
from hybrid.errors import DataError, TeacherError
from hybrid.loop.rollouts import closed_loop
from hybrid.metrics import action_fidelity, dataset_fidelity, normalised_mse
from hybrid.teachers.base import ContinuousTeacher

PENDULUM = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)


def pd_controller(X: np.ndarray) -> np.ndarray:
    """A hand-written Pendulum controller: torque against the angle and the angular velocity."""
    angle = np.arctan2(X[:, 1], X[:, 0])
    return (-10.0 * angle - 2.0 * X[:, 2])[:, None]


@pytest.fixture
def pd_teacher() -> ContinuousTeacher:
    return as_teacher(pd_controller, action_space=PENDULUM, feature_names=["cos", "sin", "omega"], action_names=["torque"])


def test_callable_teacher_clips_to_the_bounds_and_names_bad_rows(pd_teacher: ContinuousTeacher) -> None:
    X = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(pd_teacher.predict(X), [[-2.0], [-2.0]])
    assert pd_teacher.action_kind == "continuous" and pd_teacher.action_std(X) is None
    with pytest.raises(TeacherError, match="predict"):
        pd_teacher.predict_proba(X)
    wide = as_teacher(lambda X: np.zeros((len(X), 2)), action_space=PENDULUM)
    with pytest.raises(TeacherError, match=r"shape \(2, 2\).*expected \[2, 1\]"):
        wide.predict(X)
    nan_row = as_teacher(lambda X: np.where(X[:, :1] > 0.5, np.nan, 0.0), action_space=PENDULUM)
    with pytest.raises(TeacherError, match="row 1"):
        nan_row.predict(np.array([[0.0, 0, 0], [1.0, 0, 0]]))
    with pytest.raises(TeacherError, match="finite bounds"):
        as_teacher(pd_controller, action_space=gym.spaces.Box(-np.inf, np.inf, shape=(1,)))


def test_torch_module_and_sb3_models_are_adapted() -> None:
    from stable_baselines3 import PPO, SAC, TD3

    lander = gym.make("LunarLanderContinuous-v3")
    module = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    t = as_teacher(module, action_space=lander.action_space)
    X = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    with torch.no_grad():
        expected = np.clip(module(torch.from_numpy(X)).numpy(), -1, 1)
    np.testing.assert_allclose(t.predict(X), expected, rtol=1e-6)
    assert t.ops_per_decision == 8 * 16 + 16 * 2
    Xp = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    for algo in (SAC, TD3, PPO):
        model = algo("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", **({"n_steps": 64} if algo is PPO else {}))
        teacher = as_teacher(model)
        np.testing.assert_allclose(teacher.predict(Xp), model.predict(Xp, deterministic=True)[0], atol=1e-6)
        std = teacher.action_std(Xp)
        assert (std is None) == (algo is TD3)  # TD3 is deterministic: no std to weight by
        if std is not None:
            assert std.shape == (20, 1) and (std > 0).all()


def test_a_discrete_teacher_in_a_box_environment_is_refused() -> None:
    with pytest.raises(DataError, match="continuous actions"):
        collect("Pendulum-v1", as_teacher(lambda X: np.full((len(X), 2), 0.5)), episodes=1)


def test_dataset_carries_the_action_kind(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(10, 3))
    A = np.linspace(-2, 2, 10)[:, None]
    d = DistillDataset(X, A, ["torque"], action_kind="continuous", action_low=[-2], action_high=[2], action_std=np.ones((10, 1)))
    assert d.action_kind == "continuous" and d.actions is d.P
    with pytest.raises(DataError, match="labels"):
        _ = d.labels
    same = DistillDataset.load(d.save(tmp_path / "d.npz"))
    assert same.content_hash == d.content_hash and same.action_kind == "continuous"
    np.testing.assert_array_equal(same.action_std, d.action_std)
    assert d.subset([1, 2]).action_std.shape == (2, 1) and d.split(0.3)[0].action_kind == "continuous"
    other_bounds = DistillDataset(X, A, ["torque"], action_kind="continuous", action_low=[-3], action_high=[3])
    assert other_bounds.content_hash != DistillDataset(X, A, ["torque"], action_kind="continuous", action_low=[-2], action_high=[2]).content_hash
    with pytest.raises(DataError, match="outside its bounds"):
        DistillDataset(X, A * 2, ["torque"], action_kind="continuous", action_low=[-2], action_high=[2])
    discrete = DistillDataset(X, np.full((10, 2), 0.5), ["a", "b"])
    with pytest.raises(DataError, match="one action kind"):
        DistillDataset.concat([discrete, d])


def test_collect_logs_actions_to_the_store_and_back(pd_teacher: ContinuousTeacher, tmp_path: Path) -> None:
    with TrajectoryStore(tmp_path / "s.db") as store:
        rollouts = collect("Pendulum-v1", pd_teacher, episodes=2, seed=3, store=store)
        d = rollouts.dataset
        assert d.action_kind == "continuous" and d.P.shape == (400, 1) and len(rollouts.returns) == 2
        np.testing.assert_array_equal(d.action_low, [-2.0])
        back = store.to_dataset()
        assert back.content_hash == d.content_hash
        discrete_run = store.start_run(["a", "b"], n_features=3)
        store.log_steps(discrete_run, np.zeros((1, 3)), [[0.5, 0.5]])
        with pytest.raises(DataError, match="one action kind"):
            store.to_dataset()
    again = collect("Pendulum-v1", pd_teacher, episodes=2, seed=3).dataset
    assert again.content_hash == d.content_hash  # deterministic


def test_evaluate_and_closed_loop_on_box_actions(pd_teacher: ContinuousTeacher) -> None:
    mean, _ = evaluate("Pendulum-v1", pd_teacher, episodes=3, seed=0)
    zero = as_teacher(lambda X: np.zeros((len(X), 1)), action_space=PENDULUM)
    assert mean == pytest.approx(closed_loop("Pendulum-v1", pd_teacher, 3, 0).mean_return)
    run = closed_loop("Pendulum-v1", zero, 2, 0, teacher=pd_teacher)
    assert run.agreement is not None and 0.0 <= run.agreement < 1.0
    assert closed_loop("Pendulum-v1", pd_teacher, 2, 0, teacher=pd_teacher).agreement == 1.0


def test_ingest_continuous_jsonl_and_csv(tmp_path: Path) -> None:
    lines = [{"state": [0.1 * i, 1.0], "action": [0.3, -0.7 + 0.1 * i], "action_std": [0.1, 0.2], "episode": 0} for i in range(4)]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    with TrajectoryStore(tmp_path / "s.db") as store:
        store.ingest_jsonl(path, action_space=gym.spaces.Box(-1.0, 1.0, shape=(2,)))
        d = store.to_dataset()
    assert d.action_kind == "continuous" and d.P.shape == (4, 2)
    np.testing.assert_allclose(d.P[:, 1], [-0.7, -0.6, -0.5, -0.4], rtol=1e-6)
    np.testing.assert_allclose(d.action_std, [[0.1, 0.2]] * 4, rtol=1e-6)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(lines[0]) + "\n" + json.dumps({"state": [0, 1], "action_probs": {"a": 0.5, "b": 0.5}}) + "\n")
    with TrajectoryStore(tmp_path / "t.db") as store, pytest.raises(DataError, match=r"line 2.*one action kind"):
        store.ingest_jsonl(mixed)
    csv_path = tmp_path / "log.csv"
    csv_path.write_text("state.x,state.v,action.throttle,action.steer\n0.1,0.2,0.5,-0.5\n0.2,0.1,0.25,0.0\n")
    with TrajectoryStore(tmp_path / "u.db") as store:
        store.ingest_csv(csv_path)
        d = store.to_dataset()
    assert d.action_names == ("throttle", "steer") and d.action_kind == "continuous"
    np.testing.assert_allclose(d.P, [[0.5, -0.5], [0.25, 0.0]])


def test_continuous_fidelity_uses_a_tolerance_of_the_range() -> None:
    teacher = np.array([[0.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
    student = teacher + np.array([[0.09, 0.0], [0.0, 0.11], [0.0, 0.0]])  # range 2: tolerance 0.1
    assert action_fidelity(teacher, student, [-1, -1], [1, 1]) == pytest.approx(2 / 3)
    assert action_fidelity(teacher, student, [-1, -1], [1, 1], tolerance=0.06) == 1.0
    assert action_fidelity(teacher, student, [-1, -1], [1, 1], tolerance=0.01) == pytest.approx(1 / 3)
    assert normalised_mse(teacher, teacher, [-1, -1], [1, 1]) == 0.0
    assert normalised_mse(teacher, student, [-1, -1], [1, 1]) == pytest.approx(((0.045**2) + (0.055**2)) / 6)
    d = DistillDataset(np.zeros((3, 1)), teacher, ["a", "b"], action_kind="continuous", action_low=[-1, -1], action_high=[1, 1])
    assert dataset_fidelity(d, student) == pytest.approx(2 / 3)
    with pytest.raises(DataError, match="same states"):
        action_fidelity(teacher, student[:2], [-1, -1], [1, 1])


def test_teacher_std_weights_states_and_drives_sampling() -> None:
    from hybrid.teachers.zoo import load_teacher

    teacher = load_teacher("Pendulum-v1")
    greedy = collect("Pendulum-v1", teacher, episodes=1, seed=4, weighting="std").dataset
    assert greedy.meta["weighting"] == "std" and greedy.action_std is not None
    assert greedy.weights.mean() == pytest.approx(1.0, rel=1e-5) and greedy.weights.std() > 0
    sure = greedy.action_std[:, 0] < np.median(greedy.action_std[:, 0])
    assert greedy.weights[sure].mean() > greedy.weights[~sure].mean()  # a certain teacher counts more
    sampled = collect("Pendulum-v1", teacher, episodes=1, seed=4, sample=True).dataset
    assert sampled.content_hash != greedy.with_weights(None).content_hash  # noise changed the states visited
    np.testing.assert_allclose(sampled.P, teacher.predict(sampled.X), atol=1e-5)  # labels stay deterministic (batch vs row float32)
    with pytest.raises(DataError, match="no action std"):
        collect("Pendulum-v1", as_teacher(pd_controller, action_space=PENDULUM), episodes=1, sample=True)
