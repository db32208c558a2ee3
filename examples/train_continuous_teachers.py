"""Train the committed continuous-action teachers and export them to ``hybrid/teachers/weights/``.

Trains stable-baselines3 SAC (Pendulum, MountainCarContinuous) or PPO (LunarLanderContinuous:
16 vectorised environments train several times faster than SAC's gradient step per environment
step on a shared CPU) with a fixed seed and rl-baselines3-zoo hyperparameters, checks the
*exported* policy every ``check_every`` steps on seeds never used for the final figure, stops
once it meets the target, then writes the actor only (no critics, no pickle) as float32 arrays
plus an entry in ``index.json`` with its SHA-256, bounds, return and probe states on which the
export must match SB3's own deterministic ``predict``.

    python examples/train_continuous_teachers.py --env Pendulum-v1
    python examples/train_continuous_teachers.py --env all --evaluate 100   # committed ones

Hopper-v5 needs the ``mujoco`` extra (``pip install -e ".[mujoco]"``).

Needs the ``sb3`` extra for training; evaluating the committed weights needs only this package.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _teacher_training import EVAL_SEED, N_PROBES, Act, TeacherConfig, make_model, probe_states, run_cli, train_until_target, zoo_entry

from hybrid.teachers.zoo import CRITIC_PREFIX, ContinuousPolicyTeacher, layer_keys

CONFIGS: dict[str, TeacherConfig] = {
    c.env_id: c
    for c in [
        TeacherConfig(
            "Pendulum-v1",
            -200.0,
            40_000,
            dict(learning_rate=1e-3),
            ("torque",),
            ("cos_theta", "sin_theta", "angular_velocity"),
            check_every=4_000,
            check_episodes=10,
            check_margin=20.0,
            algorithm="SAC",
        ),
        TeacherConfig(
            "MountainCarContinuous-v0",
            90.0,
            100_000,
            dict(
                learning_rate=3e-4,
                buffer_size=50_000,
                batch_size=512,
                ent_coef=0.1,
                train_freq=32,
                gradient_steps=32,
                gamma=0.9999,
                tau=0.01,
                learning_starts=0,
                use_sde=True,
                policy_kwargs=dict(log_std_init=-3.67, net_arch=[64, 64]),
            ),
            ("force",),
            ("position", "velocity"),
            check_every=5_000,
            check_episodes=10,
            check_margin=2.0,
            algorithm="SAC",
        ),
        TeacherConfig(
            "LunarLanderContinuous-v3",
            200.0,
            3_000_000,
            dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
            ("main_engine", "lateral_engine"),
            ("x", "y", "vx", "vy", "angle", "angular_velocity", "left_leg_contact", "right_leg_contact"),
            check_every=131_072,
            check_episodes=10,
            check_margin=20.0,
            algorithm="PPO",
            n_envs=16,
        ),
        TeacherConfig(
            "Hopper-v5",
            2500.0,
            400_000,
            dict(learning_starts=10_000, policy_kwargs=dict(net_arch=[64, 64])),
            ("thigh_torque", "leg_torque", "foot_torque"),
            (
                *("torso_z", "torso_angle", "thigh_angle", "leg_angle", "foot_angle"),
                *("vel_x", "vel_z", "torso_angular_vel", "thigh_angular_vel", "leg_angular_vel", "foot_angular_vel"),
            ),
            check_every=25_000,
            check_episodes=5,
            check_margin=200.0,
            algorithm="SAC",
        ),
    ]
}


def ppo_arrays(model: Any) -> dict[str, np.ndarray]:
    """A PPO policy's mean path (policy net + action head) and its log-std vector as float32 arrays."""
    policy = model.policy
    linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    linears.append(policy.action_net)
    arrays: dict[str, np.ndarray] = {}
    for i, m in enumerate(linears):
        w_key, b_key = layer_keys(i)
        arrays[w_key] = m.weight.detach().numpy().astype(np.float32)
        arrays[b_key] = m.bias.detach().numpy().astype(np.float32)
    arrays["log_std"] = policy.log_std.detach().numpy().astype(np.float32)
    arrays["action_low"] = model.action_space.low.astype(np.float32)
    arrays["action_high"] = model.action_space.high.astype(np.float32)
    return arrays


def actor_arrays(model: Any) -> tuple[dict[str, np.ndarray], float | None]:
    """The actor's mean path (+ its log-std when not gSDE) as float32 arrays.

    Returns the arrays and the ``clip_mean`` SB3 applies before ``tanh`` under gSDE (else None).
    """
    if not hasattr(model.policy, "actor"):
        return ppo_arrays(model), None
    actor = model.policy.actor
    mu = actor.mu
    clip_mean = None
    if isinstance(mu, torch.nn.Sequential):  # gSDE: Linear followed by Hardtanh(±clip_mean)
        clip_mean = float(mu[1].max_val)
        mu = mu[0]
    linears = [m for m in actor.latent_pi if isinstance(m, torch.nn.Linear)] + [mu]
    arrays: dict[str, np.ndarray] = {}
    for i, m in enumerate(linears):
        w_key, b_key = layer_keys(i)
        arrays[w_key] = m.weight.detach().numpy().astype(np.float32)
        arrays[b_key] = m.bias.detach().numpy().astype(np.float32)
    if isinstance(actor.log_std, torch.nn.Linear):
        arrays["log_std.weight"] = actor.log_std.weight.detach().numpy().astype(np.float32)
        arrays["log_std.bias"] = actor.log_std.bias.detach().numpy().astype(np.float32)
    arrays["action_low"] = model.action_space.low.astype(np.float32)
    arrays["action_high"] = model.action_space.high.astype(np.float32)
    return arrays | critic_arrays(model), clip_mean


def critic_arrays(model: Any) -> dict[str, np.ndarray]:
    """The first Q-network of a SAC/TD3 critic (``[state, action in -1..1] -> Q``) as float32
    ``critic.layer{i}.*`` arrays, so the committed teacher can weight states by how much its
    action matters (VIPER); the actor never reads them."""
    q_net = model.policy.critic.q_networks[0]
    arrays: dict[str, np.ndarray] = {}
    for i, m in enumerate(m for m in q_net if isinstance(m, torch.nn.Linear)):
        w_key, b_key = layer_keys(i)
        arrays[f"{CRITIC_PREFIX}{w_key}"] = m.weight.detach().numpy().astype(np.float32)
        arrays[f"{CRITIC_PREFIX}{b_key}"] = m.bias.detach().numpy().astype(np.float32)
    return arrays


def _head(config: TeacherConfig) -> tuple[str, str]:
    """(hidden activation, squash) of the exported policy: SAC ReLU + tanh, PPO Tanh + clip."""
    return ("relu", "tanh") if config.algorithm == "SAC" else ("tanh", "clip")


def _teacher(config: TeacherConfig, arrays: dict[str, np.ndarray], clip_mean: float | None) -> ContinuousPolicyTeacher:
    activation, squash = _head(config)
    return ContinuousPolicyTeacher.from_arrays(
        arrays,
        env_id=config.env_id,
        action_names=config.action_names,
        feature_names=config.feature_names,
        activation=activation,
        squash=squash,
        clip_mean=clip_mean,
    )


def acting(teacher: ContinuousPolicyTeacher) -> Act:
    """The teacher's deterministic action for one raw state."""
    return lambda obs: teacher.predict(obs)[0]


def train(config: TeacherConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Train one teacher until it meets its target (or its step budget ends) and export it."""
    model, _ = make_model(config, seed)
    run = train_until_target(config, model, lambda m: _teacher(config, *actor_arrays(m)), acting)
    arrays, clip_mean = actor_arrays(model)
    probes = probe_states(config.env_id, acting(run.teacher), N_PROBES, EVAL_SEED)
    sb3_actions = model.predict(probes, deterministic=True)[0]
    hidden = config.hyperparameters.get("policy_kwargs", {}).get("net_arch", [256, 256] if config.algorithm == "SAC" else [64, 64])
    activation, squash = _head(config)
    description = {
        "action_kind": "continuous",
        "action_names": list(config.action_names),
        "feature_names": list(config.feature_names),
        "action_low": arrays["action_low"].astype(float).tolist(),
        "action_high": arrays["action_high"].astype(float).tolist(),
        "activation": activation,
        "squash": squash,
        "clip_mean": clip_mean,
        "architecture": (f"Linear-ReLU x{len(hidden)} ({hidden}) - Linear mean - tanh - scale to bounds (SB3 SAC actor)")
        if squash == "tanh"
        else (f"Linear-Tanh x{len(hidden)} ({hidden}) - Linear mean - clip to bounds (SB3 PPO MlpPolicy policy net + action head)"),
        "algorithm": f"{config.algorithm} (stable-baselines3 MlpPolicy, rl-baselines3-zoo hyperparameters)",
        "hyperparameters": dict(config.hyperparameters) | {"linear_lr": "learning_rate" in config.linear_schedules, "n_envs": config.n_envs},
    }
    probe_figures = {"states": probes.astype(float).tolist(), "sb3_actions": np.asarray(sb3_actions).astype(float).tolist()}
    return zoo_entry(config, run, arrays, description, seed=seed, out_dir=out_dir, probes=probe_figures)


if __name__ == "__main__":
    sys.exit(run_cli(doc=__doc__, example="python examples/train_continuous_teachers.py --env Pendulum-v1", configs=CONFIGS, train=train, act=acting))
