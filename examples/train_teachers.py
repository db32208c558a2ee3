"""Train the committed PPO teachers and export their policies to ``hybrid/teachers/weights/``.

Trains stable-baselines3 PPO (default ``MlpPolicy``: separate 64-64 tanh policy and value nets)
with a fixed seed and rl-baselines3-zoo hyperparameters, stops as soon as an evaluation of the
exported policy meets the target, then writes the policy half only (no value net, no pickle) as
float32 arrays plus an entry in ``index.json`` with its SHA-256, names, return and probe states.

    python examples/train_teachers.py --env CartPole-v1      # train and export one teacher
    python examples/train_teachers.py --env all --evaluate 100   # measure the committed ones

Needs the ``sb3`` extra for training (``pip install stable-baselines3``); evaluating the
committed weights needs only this package.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _teacher_training import EVAL_SEED, N_PROBES, Act, TeacherConfig, make_model, probe_states, run_cli, train_until_target, zoo_entry

from hybrid.teachers.zoo import PolicyTeacher, layer_keys

_LUNAR = TeacherConfig(
    "LunarLander-v3",
    200.0,
    2_000_000,
    dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
    ("noop", "fire_left", "fire_main", "fire_right"),
    ("x", "y", "vx", "vy", "angle", "angular_velocity", "left_leg_contact", "right_leg_contact"),
    n_envs=16,
    check_every=65_536,
    check_episodes=20,
    check_margin=30.0,
)

CONFIGS: dict[str, TeacherConfig] = {
    c.key: c
    for c in [
        TeacherConfig(
            "CartPole-v1",
            475.0,
            100_000,
            dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2),
            ("push_left", "push_right"),
            ("cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"),
            n_envs=8,
            check_every=10_000,
            check_episodes=20,
            check_margin=15.0,
            linear_schedules=("learning_rate", "clip_range"),
        ),
        TeacherConfig(
            "Acrobot-v1",
            -90.0,
            1_000_000,
            dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
            ("torque_neg", "torque_zero", "torque_pos"),
            ("cos_theta1", "sin_theta1", "cos_theta2", "sin_theta2", "theta1_angular_velocity", "theta2_angular_velocity"),
            n_envs=16,
            normalize_obs=True,
            check_every=40_000,
            check_episodes=20,
            check_margin=8.0,
        ),
        _LUNAR,
        # the shifted world of issue 12: the same recipe trained under gymnasium's LunarLander wind
        replace(
            _LUNAR,
            total_timesteps=1_500_000,
            check_margin=0.0,
            zoo_id="LunarLander-v3-wind15",
            env_kwargs=dict(enable_wind=True, wind_power=15.0, turbulence_power=1.5),
        ),
    ]
}


def greedy(teacher: PolicyTeacher) -> Act:
    """The teacher's deterministic action for one raw state."""
    return lambda obs: int(teacher.predict(obs)[0])


def policy_arrays(model: Any, normalizer: Any | None) -> dict[str, np.ndarray]:
    """The policy net + action head of an SB3 PPO model as ``layer{i}`` float32 arrays.

    A ``VecNormalize`` observation normaliser, ``(x - mean) / sqrt(var + eps)``, is folded into
    the first layer (``W' = W / s``, ``b' = b - W' mean``), so the teacher takes raw states. It
    is exact because training uses an unbounded ``clip_obs``.
    """
    linears = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    linears.append(model.policy.action_net)
    layers = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in linears]
    if normalizer is not None:
        rms = normalizer.obs_rms
        scale = np.sqrt(rms.var + normalizer.epsilon)
        w0 = layers[0][0] / scale[None, :]
        layers[0] = (w0, layers[0][1] - w0 @ rms.mean)
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(layers):
        w_key, b_key = layer_keys(i)
        arrays[w_key], arrays[b_key] = w.astype(np.float32), b.astype(np.float32)
    return arrays


def sb3_probabilities(model: Any, normalizer: Any | None, states: np.ndarray) -> np.ndarray:
    """SB3's own action probabilities for raw ``states`` (the reference the export must match)."""
    obs = normalizer.normalize_obs(states) if normalizer is not None else states
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(obs, dtype=torch.float32))
        return dist.distribution.probs.numpy()


def _teacher(config: TeacherConfig, arrays: dict[str, np.ndarray]) -> PolicyTeacher:  # named by its zoo id
    return PolicyTeacher.from_arrays(
        arrays,
        env_id=config.key,
        action_names=config.action_names,
        feature_names=config.feature_names,
    )


def train(config: TeacherConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Train one teacher until it meets its target (or its step budget ends) and export it."""
    model, normalizer = make_model(config, seed)
    run = train_until_target(config, model, lambda m: _teacher(config, policy_arrays(m, normalizer)), greedy)
    probes = probe_states(config.env_id, greedy(run.teacher), N_PROBES, EVAL_SEED, config.env_kwargs)
    description = {
        "action_names": list(config.action_names),
        "feature_names": list(config.feature_names),
        "architecture": "Linear-Tanh-Linear-Tanh-Linear (SB3 PPO MlpPolicy policy net + action head)",
        "algorithm": "PPO (stable-baselines3 MlpPolicy, rl-baselines3-zoo hyperparameters)",
        "hyperparameters": {
            **config.hyperparameters,
            "n_envs": config.n_envs,
            "linear_schedules": list(config.linear_schedules),
            "normalize_obs": config.normalize_obs,
        },
        "observation_normalizer": "folded into layer0" if config.normalize_obs else None,
    }
    probe_figures = {"states": probes.astype(float).tolist(), "sb3_probabilities": sb3_probabilities(model, normalizer, probes).astype(float).tolist()}
    return zoo_entry(config, run, policy_arrays(model, normalizer), description, seed=seed, out_dir=out_dir, probes=probe_figures)


if __name__ == "__main__":
    sys.exit(run_cli(doc=__doc__, example="python examples/train_teachers.py --env CartPole-v1 --evaluate 100", configs=CONFIGS, train=train, act=greedy))
