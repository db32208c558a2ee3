"""Train the committed PPO teachers and export their policies to ``hybrid/teachers_zoo/``.

Trains stable-baselines3 PPO (default ``MlpPolicy``: separate 64-64 tanh policy and value nets)
with a fixed seed and rl-baselines3-zoo hyperparameters, stops as soon as an evaluation of the
exported policy meets the target, then writes the policy half only (no value net, no pickle) as
float32 arrays plus an entry in ``index.json`` with its SHA-256, names, return and probe states.

    python examples/train_teachers.py --env CartPole-v1      # train and export one teacher
    python examples/train_teachers.py --env all --evaluate 100   # measure the committed ones
    python examples/train_teachers.py --env LunarLander-v3-wind15  # a variant: same env, shifted world

A variant is a zoo id of its own (``<EnvId>-<tag>``) over the same gymnasium environment made
with extra keyword arguments (``env_kwargs``, e.g. LunarLander's wind), recorded in its entry.

Needs the ``sb3`` extra for training (``pip install stable-baselines3``); evaluating the
committed weights needs only this package.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hybrid.errors import HybridError
from hybrid.zoo import INDEX_NAME, ZOO_DIR, PolicyTeacher, layer_keys, load_teacher
from provenance.hashing import hash_file

EVAL_SEED = 1_000  # final / --evaluate episodes use seeds EVAL_SEED .. EVAL_SEED + N - 1
CHECK_SEED = 50_000  # early-stopping checks use other seeds, so the reported figure is not selected on
N_PROBES = 8


@dataclass(frozen=True)
class TeacherConfig:
    """One teacher's recipe: rl-baselines3-zoo hyperparameters, target return and names."""

    env_id: str
    target: float
    total_timesteps: int
    n_envs: int
    ppo: dict[str, Any]
    action_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    normalize_obs: bool = False
    check_every: int = 50_000  # environment steps between early-stopping checks
    check_episodes: int = 20
    check_margin: float = 0.0  # the check must beat target + margin before the 100-episode run
    linear_schedules: tuple[str, ...] = field(default=())  # PPO args decayed linearly to 0
    zoo_id: str = ""  # the id in index.json; empty means env_id (a variant names itself)
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to gym.make (e.g. wind)

    @property
    def key(self) -> str:
        """The teacher's id in the zoo: ``zoo_id`` for a variant, else the environment id."""
        return self.zoo_id or self.env_id


_LUNAR = TeacherConfig(
    "LunarLander-v3",
    200.0,
    2_000_000,
    16,
    dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
    ("noop", "fire_left", "fire_main", "fire_right"),
    ("x", "y", "vx", "vy", "angle", "angular_velocity", "left_leg_contact", "right_leg_contact"),
    check_every=65_536,
    check_margin=30.0,
)

CONFIGS: dict[str, TeacherConfig] = {
    c.key: c
    for c in [
        TeacherConfig(
            "CartPole-v1",
            475.0,
            100_000,
            8,
            dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2),
            ("push_left", "push_right"),
            ("cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"),
            check_every=10_000,
            check_margin=15.0,
            linear_schedules=("learning_rate", "clip_range"),
        ),
        TeacherConfig(
            "Acrobot-v1",
            -90.0,
            1_000_000,
            16,
            dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
            ("torque_neg", "torque_zero", "torque_pos"),
            ("cos_theta1", "sin_theta1", "cos_theta2", "sin_theta2", "theta1_angular_velocity", "theta2_angular_velocity"),
            normalize_obs=True,
            check_every=40_000,
            check_margin=8.0,
        ),
        _LUNAR,
        # the shifted world of issue 12: same recipe, trained under wind (gymnasium's LunarLander wind model)
        replace(
            _LUNAR,
            total_timesteps=1_500_000,
            zoo_id="LunarLander-v3-wind15",
            env_kwargs=dict(enable_wind=True, wind_power=15.0, turbulence_power=1.5),
            check_margin=0.0,
        ),
    ]
}


def episode_returns(env_id: str, act: Callable[[np.ndarray], int], episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """Undiscounted returns of ``episodes`` episodes, episode ``i`` reset with ``seed + i``."""
    env = gym.make(env_id, **(env_kwargs or {}))
    returns = np.empty(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns[i] = total
    env.close()
    return returns


def greedy(teacher: PolicyTeacher) -> Callable[[np.ndarray], int]:
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


def probe_states(env_id: str, teacher: PolicyTeacher, n: int, seed: int, env_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """``n`` states spread over one seeded teacher episode (a fixed, realistic probe set)."""
    env = gym.make(env_id, **(env_kwargs or {}))
    obs, _ = env.reset(seed=seed)
    states, done = [obs], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(int(teacher.predict(obs)[0]))
        states.append(obs)
        done = terminated or truncated
    env.close()
    idx = np.linspace(0, len(states) - 1, n).round().astype(int)
    return np.asarray(states, dtype=np.float32)[idx]


def _teacher(config: TeacherConfig, arrays: dict[str, np.ndarray]) -> PolicyTeacher:
    return PolicyTeacher.from_arrays(
        arrays,
        env_id=config.key,
        action_names=config.action_names,
        feature_names=config.feature_names,
    )


def train(config: TeacherConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Train one teacher until it meets its target (or its step budget ends) and export it."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = make_vec_env(config.env_id, n_envs=config.n_envs, seed=seed, vec_env_cls=DummyVecEnv, env_kwargs=config.env_kwargs)
    normalizer = None
    if config.normalize_obs:
        venv = normalizer = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=np.inf)
    kwargs = dict(config.ppo)
    for name in config.linear_schedules:
        start = kwargs[name]
        kwargs[name] = lambda progress_remaining, start=start: progress_remaining * start
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    result: dict[str, Any] = {}

    class StopAtTarget(BaseCallback):
        """Every ``check_every`` steps, evaluate the exported policy; stop once it meets the target."""

        def __init__(self) -> None:
            super().__init__()
            self.next_check = config.check_every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_check:
                return True
            self.next_check += config.check_every
            teacher = _teacher(config, policy_arrays(self.model, normalizer))
            check = episode_returns(config.env_id, greedy(teacher), config.check_episodes, CHECK_SEED, config.env_kwargs)
            print(f"  {config.key} {self.num_timesteps:>8} steps: check {check.mean():8.2f} ± {check.std():.2f}", flush=True)
            if check.mean() < config.target + config.check_margin:
                return True
            final = episode_returns(config.env_id, greedy(teacher), 100, EVAL_SEED, config.env_kwargs)
            print(f"  {config.key}: 100 episodes {final.mean():.2f} ± {final.std():.2f}", flush=True)
            result.update(returns=final, steps=self.num_timesteps)
            return final.mean() < config.target

    started = time.time()
    model.learn(total_timesteps=config.total_timesteps, callback=StopAtTarget())
    arrays = policy_arrays(model, normalizer)
    teacher = _teacher(config, arrays)
    if result.get("steps") != model.num_timesteps:  # budget ended without a passing check
        result.update(returns=episode_returns(config.env_id, greedy(teacher), 100, EVAL_SEED, config.env_kwargs), steps=model.num_timesteps)
    probes = probe_states(config.env_id, teacher, N_PROBES, EVAL_SEED, config.env_kwargs)
    npz_path = out_dir / f"{config.key}.npz"
    np.savez(npz_path, **arrays)
    returns = result["returns"]
    variant = {"env_id": config.env_id, "env_kwargs": config.env_kwargs} if config.zoo_id else {}
    return {
        "file": npz_path.name,
        **variant,
        "sha256": hash_file(npz_path),
        "action_names": list(config.action_names),
        "feature_names": list(config.feature_names),
        "architecture": "Linear-Tanh-Linear-Tanh-Linear (SB3 PPO MlpPolicy policy net + action head)",
        "algorithm": "PPO (stable-baselines3 MlpPolicy, rl-baselines3-zoo hyperparameters)",
        "hyperparameters": {**config.ppo, "n_envs": config.n_envs, "linear_schedules": list(config.linear_schedules), "normalize_obs": config.normalize_obs},
        "observation_normalizer": "folded into layer0" if config.normalize_obs else None,
        "seed": seed,
        "steps": int(result["steps"]),
        "train_seconds": round(time.time() - started, 1),
        "target_return": config.target,
        "return_mean": round(float(returns.mean()), 3),
        "return_std": round(float(returns.std()), 3),
        "eval_episodes": len(returns),
        "eval_seed": EVAL_SEED,
        "ops_per_decision": teacher.ops_per_decision,
        "probes": {
            "states": probes.astype(float).tolist(),
            "sb3_probabilities": sb3_probabilities(model, normalizer, probes).astype(float).tolist(),
        },
    }


def write_entry(out_dir: Path, env_id: str, entry: dict[str, Any]) -> None:
    """Add or replace one teacher's entry in ``index.json``, keeping the others."""
    path = out_dir / INDEX_NAME
    index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"teachers": {}}
    index["teachers"][env_id] = entry
    index["teachers"] = dict(sorted(index["teachers"].items()))
    path.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python examples/train_teachers.py --env CartPole-v1 --evaluate 100",
    )
    parser.add_argument("--env", default="all", choices=[*CONFIGS, "all"])
    parser.add_argument("--evaluate", type=int, metavar="N", help="do not train: load the committed weights and report N episodes")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="zoo directory to write")
    args = parser.parse_args(argv)
    if args.evaluate is not None and args.evaluate < 1:
        parser.error("--evaluate needs a positive number of episodes, e.g. --evaluate 100")
    torch.set_num_threads(1)
    env_ids = list(CONFIGS) if args.env == "all" else [args.env]
    for env_id in env_ids:
        if args.evaluate is not None:
            try:
                teacher = load_teacher(env_id, args.out)
            except HybridError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            config = CONFIGS[env_id]
            r = episode_returns(config.env_id, greedy(teacher), args.evaluate, EVAL_SEED, config.env_kwargs)
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
