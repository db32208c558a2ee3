"""VIPER weights from what the teacher knows: DQN Q-values, a SAC/TD3 critic, an exported critic."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from hybrid import as_teacher, collect
from hybrid.errors import DataError, TeacherError
from hybrid.loop.rollouts import teacher_weights
from hybrid.teachers.base import ContinuousTeacher, perturbed_actions
from hybrid.teachers.zoo import CRITIC_PREFIX, ContinuousPolicyTeacher, layer_keys

PENDULUM = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)


def _controller(X: np.ndarray) -> np.ndarray:
    return np.clip(-3.0 * X[:, 1:2], -2.0, 2.0)


def test_critic_drop_weights_states_where_the_action_matters() -> None:
    # Q(s, a) = -|s_0| (a - a*)^2: moving the action costs in proportion to |s_0|, nothing at s_0 = 0
    def critic(X: np.ndarray, A: np.ndarray) -> np.ndarray:
        return -np.abs(X[:, 0]) * (A[:, 0] - _controller(X)[:, 0]) ** 2

    teacher = ContinuousTeacher(_controller, PENDULUM.low, PENDULUM.high, critic_fn=critic)
    X = np.array([[0.0, 0.1, 0.0], [1.0, 0.1, 0.0], [3.0, 0.1, 0.0]], dtype=np.float32)
    w, source = teacher_weights(teacher, X, teacher.predict(X), "q")
    assert source == "critic" and w.mean() == pytest.approx(1.0)
    assert w[0] == 0.0 and w[2] == pytest.approx(3 * w[1], rel=1e-5)
    with pytest.raises(DataError, match="neither a critic nor an action std"):  # "std" never reads the critic
        teacher_weights(teacher, X, teacher.predict(X), "std")
    flat = ContinuousTeacher(_controller, PENDULUM.low, PENDULUM.high, critic_fn=lambda X, A: np.zeros(len(X)))
    with pytest.raises(DataError, match="perturbed action"):
        teacher_weights(flat, X, flat.predict(X), "q")
    bad = ContinuousTeacher(_controller, PENDULUM.low, PENDULUM.high, critic_fn=lambda X, A: np.full(len(X), np.nan))
    with pytest.raises(TeacherError, match="non-finite critic values"):
        bad.action_values(X, bad.predict(X))


def test_perturbed_actions_move_one_dimension_each_way_within_the_bounds() -> None:
    low, high = np.array([-1.0, 0.0], dtype=np.float32), np.array([1.0, 4.0], dtype=np.float32)
    moved = perturbed_actions(np.array([[0.9, 2.0]], dtype=np.float32), low, high)
    np.testing.assert_allclose(moved[:, 0], [[1.0, 2.0], [0.4, 2.0], [0.9, 3.0], [0.9, 1.0]])


def test_sb3_off_policy_critic_is_the_first_q_network_on_scaled_actions() -> None:
    from stable_baselines3 import PPO, SAC, TD3

    X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    A = np.random.default_rng(1).uniform(-2, 2, size=(16, 1)).astype(np.float32)
    for algo in (SAC, TD3):
        model = algo("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", policy_kwargs={"net_arch": [16, 16]})
        teacher = as_teacher(model)
        with torch.no_grad():
            expected = model.critic.q1_forward(torch.from_numpy(X), torch.from_numpy(A / 2.0)).numpy().ravel()
        np.testing.assert_allclose(teacher.action_values(X, A), expected, rtol=1e-5, atol=1e-6)
        w, source = teacher_weights(teacher, X, teacher.predict(X), "q")
        assert source == "critic" and w.shape == (16,) and w.mean() == pytest.approx(1.0, rel=1e-5)
    ppo = as_teacher(PPO("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", n_steps=64))
    assert not ppo.has_critic and teacher_weights(ppo, X, ppo.predict(X), "q")[1] == "std"  # V(s) is no Q: std instead


def _exported_sac(tmp_path: Path) -> tuple[ContinuousPolicyTeacher, object]:
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", policy_kwargs={"net_arch": [8, 8]})
    actor = model.policy.actor
    arrays: dict[str, np.ndarray] = {}
    for prefix, linears in (
        ("", [*[m for m in actor.latent_pi if isinstance(m, torch.nn.Linear)], actor.mu]),
        (CRITIC_PREFIX, [m for m in model.critic.qf0 if isinstance(m, torch.nn.Linear)]),
    ):
        for i, m in enumerate(linears):
            w_key, b_key = layer_keys(i)
            arrays[prefix + w_key] = m.weight.detach().numpy()
            arrays[prefix + b_key] = m.bias.detach().numpy()
    arrays |= {"action_low": PENDULUM.low, "action_high": PENDULUM.high}
    np.savez(tmp_path / "t.npz", **arrays)
    loaded = dict(np.load(tmp_path / "t.npz", allow_pickle=False))
    meta = {"env_id": "Pendulum-v1", "action_names": ["torque"], "feature_names": ["cos", "sin", "omega"]}
    return ContinuousPolicyTeacher.from_arrays(loaded, **meta), model


def test_an_exported_critic_loads_and_answers_like_sb3s(tmp_path: Path) -> None:
    teacher, model = _exported_sac(tmp_path)
    X = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    A = np.random.default_rng(3).uniform(-2, 2, size=(10, 1)).astype(np.float32)
    with torch.no_grad():
        expected = model.critic.q1_forward(torch.from_numpy(X), torch.from_numpy(A / 2.0)).numpy().ravel()  # type: ignore[attr-defined]
    assert teacher.has_critic
    np.testing.assert_allclose(teacher.action_values(X, A), expected, rtol=1e-5, atol=1e-6)
    adapted = as_teacher(teacher)
    np.testing.assert_allclose(adapted.action_values(X, A), expected, rtol=1e-5, atol=1e-6)
    data = collect("Pendulum-v1", teacher, episodes=1, seed=3, weighting="q").dataset
    assert data.meta["weighting"] == "critic" and data.weights.std() > 0


def test_committed_teachers_without_a_critic_weigh_by_their_std() -> None:
    from hybrid.teachers.zoo import load_teacher

    teacher = load_teacher("Pendulum-v1")
    assert not teacher.has_critic and not as_teacher(teacher).has_critic
    data = collect("Pendulum-v1", teacher, episodes=1, seed=4, weighting="q").dataset
    assert data.meta["weighting"] == "std"
    arrays = {layer_keys(0)[0]: np.zeros((4, 3)), layer_keys(0)[1]: np.zeros(4), layer_keys(1)[0]: np.zeros((1, 4)), layer_keys(1)[1]: np.zeros(1)}
    arrays |= {CRITIC_PREFIX + layer_keys(0)[0]: np.zeros((1, 3)), CRITIC_PREFIX + layer_keys(0)[1]: np.zeros(1)}
    arrays |= {"action_low": PENDULUM.low, "action_high": PENDULUM.high}
    with pytest.raises(TeacherError, match="critic maps 3 inputs.*needs state \\+ action = 4"):
        ContinuousPolicyTeacher.from_arrays(arrays, env_id="Pendulum-v1", action_names=["torque"], feature_names=["cos", "sin", "omega"])
