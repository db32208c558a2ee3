"""Train the committed continuous-action teachers and export them to ``hybrid/teachers_zoo/``.

Trains stable-baselines3 SAC (Pendulum, MountainCarContinuous) or PPO (LunarLanderContinuous:
16 vectorised environments train several times faster than SAC's gradient step per environment
step on a shared CPU) with a fixed seed and rl-baselines3-zoo hyperparameters, checks the
*exported* policy every ``check_every`` steps on seeds never used for the final figure, stops
once it meets the target, then writes the actor only (no critics, no pickle) as float32 arrays
plus an entry in ``index.json`` with its SHA-256, bounds, return and probe states on which the
export must match SB3's own deterministic ``predict``.

    python examples/train_continuous_teachers.py --env Pendulum-v1
    python examples/train_continuous_teachers.py --env all --evaluate 100   # committed ones

Needs the ``sb3`` extra for training; evaluating the committed weights needs only this package.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hybrid.errors import HybridError
from hybrid.zoo import ZOO_DIR, ContinuousPolicyTeacher, layer_keys, load_teacher
from provenance.hashing import hash_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_teachers import CHECK_SEED, EVAL_SEED, N_PROBES, episode_returns, write_entry


@dataclass(frozen=True)
class SacConfig:
    """One teacher's recipe: rl-baselines3-zoo hyperparameters, algorithm, budget, target and names."""

    env_id: str
    target: float
    total_timesteps: int
    sac: dict[str, Any]  # the algorithm's keyword arguments
    action_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    check_every: int = 5_000
    check_episodes: int = 10
    check_margin: float = 0.0
    linear_lr: bool = False  # decay the learning rate linearly to 0 over the budget (zoo "lin_")
    algorithm: str = "SAC"  # or "PPO" (Gaussian policy, tanh hidden layers, mean clipped to the bounds)
    n_envs: int = 1


CONFIGS: dict[str, SacConfig] = {
    c.env_id: c
    for c in [
        SacConfig(
            "Pendulum-v1",
            -200.0,
            40_000,
            dict(learning_rate=1e-3),
            ("torque",),
            ("cos_theta", "sin_theta", "angular_velocity"),
            check_every=4_000,
            check_margin=20.0,
        ),
        SacConfig(
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
            check_margin=2.0,
        ),
        SacConfig(
            "LunarLanderContinuous-v3",
            200.0,
            3_000_000,
            dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
            ("main_engine", "lateral_engine"),
            ("x", "y", "vx", "vy", "angle", "angular_velocity", "left_leg_contact", "right_leg_contact"),
            check_every=131_072,
            check_margin=20.0,
            algorithm="PPO",
            n_envs=16,
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
    return arrays, clip_mean


def _head(config: SacConfig) -> tuple[str, str]:
    """(hidden activation, squash) of the exported policy: SAC ReLU + tanh, PPO Tanh + clip."""
    return ("relu", "tanh") if config.algorithm == "SAC" else ("tanh", "clip")


def _teacher(config: SacConfig, arrays: dict[str, np.ndarray], clip_mean: float | None) -> ContinuousPolicyTeacher:
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


def acting(teacher: ContinuousPolicyTeacher) -> Any:
    """The teacher's deterministic action for one raw state."""
    return lambda obs: teacher.predict(obs)[0]


def probe_states(env_id: str, teacher: ContinuousPolicyTeacher, n: int, seed: int) -> np.ndarray:
    """``n`` states spread over one seeded teacher episode (a fixed, realistic probe set)."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    states, done = [obs], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(teacher.predict(obs)[0])
        states.append(obs)
        done = terminated or truncated
    env.close()
    idx = np.linspace(0, len(states) - 1, n).round().astype(int)
    return np.asarray(states, dtype=np.float32)[idx]


def train(config: SacConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Train one teacher until it meets its target (or its step budget ends) and export it."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    kwargs = dict(config.sac)
    if config.linear_lr:
        start = kwargs["learning_rate"]
        kwargs["learning_rate"] = lambda progress_remaining: progress_remaining * start
    env = make_vec_env(config.env_id, n_envs=config.n_envs, seed=seed, vec_env_cls=DummyVecEnv)
    algorithm = {"SAC": SAC, "PPO": PPO}[config.algorithm]
    model = algorithm("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    result: dict[str, Any] = {}

    class StopAtTarget(BaseCallback):
        """Every ``check_every`` steps, evaluate the exported actor; stop once it meets the target."""

        def __init__(self) -> None:
            super().__init__()
            self.next_check = config.check_every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_check:
                return True
            self.next_check += config.check_every
            teacher = _teacher(config, *actor_arrays(self.model))
            check = episode_returns(config.env_id, acting(teacher), config.check_episodes, CHECK_SEED)
            print(f"  {config.env_id} {self.num_timesteps:>8} steps: check {check.mean():8.2f} ± {check.std():.2f} ({time.time() - started:.0f} s)", flush=True)
            if check.mean() < config.target + config.check_margin:
                return True
            final = episode_returns(config.env_id, acting(teacher), 100, EVAL_SEED)
            print(f"  {config.env_id}: 100 episodes {final.mean():.2f} ± {final.std():.2f}", flush=True)
            result.update(returns=final, steps=self.num_timesteps)
            return final.mean() < config.target

    started = time.time()
    model.learn(total_timesteps=config.total_timesteps, callback=StopAtTarget())
    arrays, clip_mean = actor_arrays(model)
    teacher = _teacher(config, arrays, clip_mean)
    if result.get("steps") != model.num_timesteps:  # budget ended without a passing check
        result.update(returns=episode_returns(config.env_id, acting(teacher), 100, EVAL_SEED), steps=model.num_timesteps)
    probes = probe_states(config.env_id, teacher, N_PROBES, EVAL_SEED)
    sb3_actions = model.predict(probes, deterministic=True)[0]
    npz_path = out_dir / f"{config.env_id}.npz"
    np.savez(npz_path, **arrays)
    returns = result["returns"]
    hidden = config.sac.get("policy_kwargs", {}).get("net_arch", [256, 256] if config.algorithm == "SAC" else [64, 64])
    activation, squash = _head(config)
    return {
        "file": npz_path.name,
        "sha256": hash_file(npz_path),
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
        "hyperparameters": dict(config.sac) | {"linear_lr": config.linear_lr, "n_envs": config.n_envs},
        "seed": seed,
        "steps": int(result["steps"]),
        "train_seconds": round(time.time() - started, 1),
        "target_return": config.target,
        "return_mean": round(float(returns.mean()), 3),
        "return_std": round(float(returns.std()), 3),
        "eval_episodes": len(returns),
        "eval_seed": EVAL_SEED,
        "ops_per_decision": teacher.ops_per_decision,
        "probes": {"states": probes.astype(float).tolist(), "sb3_actions": np.asarray(sb3_actions).astype(float).tolist()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python examples/train_continuous_teachers.py --env Pendulum-v1",
    )
    parser.add_argument("--env", default="all", choices=[*CONFIGS, "all"])
    parser.add_argument("--evaluate", type=int, metavar="N", help="do not train: load the committed weights and report N episodes")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="zoo directory to write")
    args = parser.parse_args(argv)
    if args.evaluate is not None and args.evaluate < 1:
        parser.error("--evaluate needs a positive number of episodes, e.g. --evaluate 100")
    torch.set_num_threads(1)
    for env_id in list(CONFIGS) if args.env == "all" else [args.env]:
        if args.evaluate is not None:
            try:
                teacher = load_teacher(env_id, args.out)
            except HybridError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            r = episode_returns(env_id, lambda obs, t=teacher: t.predict(obs)[0], args.evaluate, EVAL_SEED)
            print(
                f"{env_id}: mean return {r.mean():.2f} ± {r.std():.2f} over {args.evaluate} "
                f"episodes (seeds {EVAL_SEED}..{EVAL_SEED + args.evaluate - 1}), "
                f"{teacher.ops_per_decision} multiply-adds per decision"
            )
            continue
        entry = train(CONFIGS[env_id], args.seed, args.out)
        write_entry(args.out, env_id, entry)
        status = "meets" if entry["return_mean"] >= CONFIGS[env_id].target else "MISSES"
        print(f"{env_id}: {entry['return_mean']:.2f} ± {entry['return_std']:.2f} after {entry['steps']} steps ({status} target {CONFIGS[env_id].target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
