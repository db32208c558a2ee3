"""What the two teacher-training scripts share: the recipe, the stop-at-target loop, the zoo
entry and the command line.

``train_teachers.py`` (discrete actions, PPO) and ``train_continuous_teachers.py`` (continuous
actions, SAC or PPO) each declare their recipes and how a trained SB3 model becomes a zoo
teacher (its arrays, its description in ``index.json``); everything else is here, once: seeds,
episodes, probe states, training with early stopping on the *exported* policy, writing the
``.npz`` and its entry, and ``--env/--evaluate/--seed/--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hybrid.errors import HybridError
from hybrid.teachers.zoo import INDEX_NAME, ZOO_DIR, load_teacher
from provenance.hashing import hash_file

EVAL_SEED = 1_000  # final / --evaluate episodes use seeds EVAL_SEED .. EVAL_SEED + N - 1
CHECK_SEED = 50_000  # early-stopping checks use other seeds, so the reported figure is not selected on
N_PROBES = 8

Act = Callable[[np.ndarray], Any]  # one raw state -> the action env.step takes


@dataclass(frozen=True)
class TeacherConfig:
    """One teacher's recipe: algorithm and rl-baselines3-zoo hyperparameters, budget, target,
    early-stopping checks and names."""

    env_id: str
    target: float
    total_timesteps: int
    hyperparameters: dict[str, Any]  # the algorithm's keyword arguments
    action_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    check_every: int  # environment steps between early-stopping checks
    check_episodes: int
    check_margin: float = 0.0  # the check must beat target + margin before the 100-episode run
    algorithm: str = "PPO"  # or "SAC"
    n_envs: int = 1
    normalize_obs: bool = False  # VecNormalize observations (folded into the exported first layer)
    linear_schedules: tuple[str, ...] = field(default=())  # arguments decayed linearly to 0 over the budget
    zoo_id: str = ""  # the teacher's id in index.json; empty means env_id (a variant names itself)
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to gym.make (e.g. LunarLander's wind)

    @property
    def key(self) -> str:
        """The teacher's id in the zoo: ``zoo_id`` for a variant trained in another world, else the environment id."""
        return self.zoo_id or self.env_id


@dataclass(frozen=True)
class TrainingRun:
    """A finished training: the exported teacher, its 100 evaluation returns, steps and start time."""

    teacher: Any
    returns: np.ndarray
    steps: int
    started: float


def episode_returns(env_id: str, act: Act, episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None) -> np.ndarray:
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


def probe_states(env_id: str, act: Act, n: int, seed: int, env_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """``n`` states spread over one seeded teacher episode (a fixed, realistic probe set)."""
    env = gym.make(env_id, **(env_kwargs or {}))
    obs, _ = env.reset(seed=seed)
    states, done = [obs], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(act(obs))
        states.append(obs)
        done = terminated or truncated
    env.close()
    idx = np.linspace(0, len(states) - 1, n).round().astype(int)
    return np.asarray(states, dtype=np.float32)[idx]


def make_model(config: TeacherConfig, seed: int) -> tuple[Any, Any]:
    """The SB3 model on ``n_envs`` seeded environments, and its observation normaliser (or None)."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = make_vec_env(config.env_id, n_envs=config.n_envs, seed=seed, vec_env_cls=DummyVecEnv, env_kwargs=config.env_kwargs)
    normalizer = None
    if config.normalize_obs:  # unbounded clip_obs keeps the folding into the first layer exact
        venv = normalizer = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=np.inf)
    kwargs = dict(config.hyperparameters)
    for name in config.linear_schedules:
        start = kwargs[name]
        kwargs[name] = lambda progress_remaining, start=start: progress_remaining * start
    algorithm = {"PPO": PPO, "SAC": SAC}[config.algorithm]
    return algorithm("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs), normalizer


def train_until_target(config: TeacherConfig, model: Any, export: Callable[[Any], Any], act: Callable[[Any], Act]) -> TrainingRun:
    """Train ``model``; every ``check_every`` steps evaluate the exported teacher (``export(model)``)
    on check seeds and, once it beats target + margin, on the 100 evaluation episodes; stop when
    those meet the target (or the step budget ends, then evaluate the last policy)."""
    from stable_baselines3.common.callbacks import BaseCallback

    result: dict[str, Any] = {}
    started = time.time()

    class StopAtTarget(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_check = config.check_every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_check:
                return True
            self.next_check += config.check_every
            teacher = export(self.model)
            check = episode_returns(config.env_id, act(teacher), config.check_episodes, CHECK_SEED, config.env_kwargs)
            print(f"  {config.key} {self.num_timesteps:>8} steps: check {check.mean():8.2f} ± {check.std():.2f} ({time.time() - started:.0f} s)", flush=True)
            if check.mean() < config.target + config.check_margin:
                return True
            final = episode_returns(config.env_id, act(teacher), 100, EVAL_SEED, config.env_kwargs)
            print(f"  {config.key}: 100 episodes {final.mean():.2f} ± {final.std():.2f}", flush=True)
            result.update(returns=final, steps=self.num_timesteps)
            return final.mean() < config.target

    model.learn(total_timesteps=config.total_timesteps, callback=StopAtTarget())
    teacher = export(model)
    if result.get("steps") != model.num_timesteps:  # budget ended without a passing check
        result.update(returns=episode_returns(config.env_id, act(teacher), 100, EVAL_SEED, config.env_kwargs), steps=model.num_timesteps)
    return TrainingRun(teacher, result["returns"], int(result["steps"]), started)


def zoo_entry(
    config: TeacherConfig, run: TrainingRun, arrays: dict[str, np.ndarray], description: dict[str, Any], *, seed: int, out_dir: Path, probes: dict
) -> dict[str, Any]:
    """Write the teacher's arrays as ``<env>.npz`` (no pickle) and return its ``index.json`` entry:
    file and hash, the script's ``description``, then training and evaluation figures and probes."""
    npz_path = out_dir / f"{config.key}.npz"
    np.savez(npz_path, **arrays)
    world = {"env_id": config.env_id, "env_kwargs": config.env_kwargs} if config.zoo_id else {}  # a variant says where it was trained
    return {
        "file": npz_path.name,
        **world,
        "sha256": hash_file(npz_path),
        **description,
        "seed": seed,
        "steps": run.steps,
        "train_seconds": round(time.time() - run.started, 1),
        "target_return": config.target,
        "return_mean": round(float(run.returns.mean()), 3),
        "return_std": round(float(run.returns.std()), 3),
        "eval_episodes": len(run.returns),
        "eval_seed": EVAL_SEED,
        "ops_per_decision": run.teacher.ops_per_decision,
        "probes": probes,
    }


def write_entry(out_dir: Path, env_id: str, entry: dict[str, Any]) -> None:
    """Add or replace one teacher's entry in ``index.json``, keeping the others."""
    path = out_dir / INDEX_NAME
    index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"teachers": {}}
    index["teachers"][env_id] = entry
    index["teachers"] = dict(sorted(index["teachers"].items()))
    path.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def run_cli(
    *,
    doc: str,
    example: str,
    configs: dict[str, TeacherConfig],
    train: Callable[[TeacherConfig, int, Path], dict[str, Any]],
    act: Callable[[Any], Act],
    argv: list[str] | None = None,
) -> int:
    """The command line of both scripts: train and export (``--env``), or measure the committed
    weights (``--evaluate N``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=f"example: {example}")
    parser.add_argument("--env", default="all", choices=[*configs, "all"])
    parser.add_argument("--evaluate", type=int, metavar="N", help="do not train: load the committed weights and report N episodes")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="zoo directory to write")
    args = parser.parse_args(argv)
    if args.evaluate is not None and args.evaluate < 1:
        parser.error("--evaluate needs a positive number of episodes, e.g. --evaluate 100")
    torch.set_num_threads(1)
    for env_id in list(configs) if args.env == "all" else [args.env]:
        if args.evaluate is not None:
            try:
                teacher = load_teacher(env_id, args.out)
            except HybridError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            config = configs[env_id]
            r = episode_returns(config.env_id, act(teacher), args.evaluate, EVAL_SEED, config.env_kwargs)
            print(
                f"{env_id}: mean return {r.mean():.2f} ± {r.std():.2f} over {args.evaluate} "
                f"episodes (seeds {EVAL_SEED}..{EVAL_SEED + args.evaluate - 1}), "
                f"{teacher.ops_per_decision} multiply-adds per decision"
            )
            continue
        entry = train(configs[env_id], args.seed, args.out)
        write_entry(args.out, env_id, entry)
        status = "meets" if entry["return_mean"] >= configs[env_id].target else "MISSES"
        print(f"{env_id}: {entry['return_mean']:.2f} ± {entry['return_std']:.2f} after {entry['steps']} steps ({status} target {configs[env_id].target})")
    return 0
