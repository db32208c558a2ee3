"""Train the committed team teacher for mpe2's ``simple_spread_v3`` and export it to the zoo.

Parameter-shared PPO: stable-baselines3 PPO (``MlpPolicy``, separate 64-64 tanh policy and value
nets) on a small ``VecEnv`` that presents every agent of every parallel game as one vector entry,
so the three agents share one policy and each learns from its own reward. Fixed seed, fixed step
budget (no early stopping); the policy half is written as float32 arrays (no value net, no
pickle) to ``hybrid/teachers/weights/simple_spread_v3.npz`` with its SHA-256 in the team index
``hybrid/teachers/weights/teams.json``, beside its mean team return over 100 episodes and a random
team's on the same episodes.

    python examples/train_team_teacher.py                 # train and export (~10-15 min on 1 core)
    python examples/train_team_teacher.py --evaluate 100  # measure the committed teacher

Needs the ``team`` and ``sb3`` extras for training; loading needs only the ``team`` extra.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybrid.envs.adapter import TeamEnv, team_factory
from hybrid.teachers.zoo import TEAM_INDEX, TEAM_TEACHERS, ZOO_DIR, PolicyTeacher, load_team_teacher
from provenance.hashing import hash_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_teachers import policy_arrays, sb3_probabilities

ENV_ID = "simple_spread_v3"
EVAL_SEED = 1_000  # --evaluate / the exported figure: episodes reset from seeds drawn from this
GAMES = 8  # parallel games; 3 agents each → 24 vector entries
PPO_ARGS: dict[str, Any] = dict(n_steps=128, batch_size=384, n_epochs=10, gamma=0.99, gae_lambda=0.95, ent_coef=0.01, learning_rate=7e-4, clip_range=0.2)
TOTAL_AGENT_STEPS = 1_500_000


def agent_vec_env(games: int, seed: int) -> Any:
    """A stable-baselines3 ``VecEnv`` whose entries are the agents of ``games`` parallel games."""
    from gymnasium import spaces
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    class AgentVecEnv(VecEnv):
        """Each agent of each game is one entry; a game resets when its episode ends."""

        def __init__(self) -> None:
            self.games = [team_factory(ENV_ID)() for _ in range(games)]
            self.agents = list(self.games[0].possible_agents)
            first = self.agents[0]
            obs_space = self.games[0].observation_space(first)
            super().__init__(games * len(self.agents), spaces.Box(-np.inf, np.inf, obs_space.shape, np.float32), self.games[0].action_space(first))
            self._actions: np.ndarray | None = None

        def _stack(self, obs_by_game: list[dict[str, np.ndarray]]) -> np.ndarray:
            return np.stack([np.asarray(o[a], dtype=np.float32) for o in obs_by_game for a in self.agents])

        def reset(self) -> np.ndarray:
            return self._stack([g.reset(seed=seed + i)[0] for i, g in enumerate(self.games)])

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self) -> Any:
            assert self._actions is not None
            n = len(self.agents)
            obs_out, rewards, dones, infos = [], [], [], []
            for i, g in enumerate(self.games):
                acts = {a: int(self._actions[i * n + j]) for j, a in enumerate(self.agents)}
                obs, rew, term, trunc, _ = g.step(acts)
                done = all(term[a] or trunc[a] for a in self.agents)
                timeout = done and not any(term[a] for a in self.agents)
                if done:
                    last = obs
                    obs, _ = g.reset()
                    infos += [{"terminal_observation": np.asarray(last[a], dtype=np.float32), "TimeLimit.truncated": timeout} for a in self.agents]
                else:
                    infos += [{} for _ in self.agents]
                obs_out.append(obs)
                rewards += [float(rew[a]) for a in self.agents]
                dones += [done] * n
            return self._stack(obs_out), np.asarray(rewards, dtype=np.float32), np.asarray(dones), infos

        def close(self) -> None:
            for g in self.games:
                g.close()

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            return [None] * self.num_envs

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            return None

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
            return [None] * self.num_envs

        def env_is_wrapped(self, wrapper_class: Any, indices: Any = None) -> list[bool]:
            return [False] * self.num_envs

    return AgentVecEnv()


def team_returns(policy: Any, episodes: int, seed: int) -> np.ndarray:
    """Greedy team returns of a policy shared by every agent (``None``: a uniformly random team)."""
    from hybrid.loop.rollouts import team_closed_loop

    return team_closed_loop(TeamEnv(ENV_ID), policy, episodes, seed).returns


def train(seed: int, out_dir: Path) -> dict[str, Any]:
    """Train the shared policy for ``TOTAL_AGENT_STEPS`` agent steps and export it."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    names = TEAM_TEACHERS[ENV_ID]
    venv = agent_vec_env(GAMES, seed)
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **PPO_ARGS)

    def teacher_of(m: Any) -> PolicyTeacher:
        return PolicyTeacher.from_arrays(policy_arrays(m, None), env_id=ENV_ID, action_names=names["action_names"], feature_names=names["feature_names"])

    class Progress(BaseCallback):
        """Print a 20-episode check (seeds apart from the evaluation's) every 150k agent steps."""

        def __init__(self) -> None:
            super().__init__()
            self.next_check = 150_000

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_check:
                self.next_check += 150_000
                r = team_returns(teacher_of(self.model), 20, 50_000)
                print(f"  {self.num_timesteps:>8} agent steps: team return {r.mean():8.2f} ± {r.std():.2f}", flush=True)
            return True

    started = time.time()
    model.learn(total_timesteps=TOTAL_AGENT_STEPS, callback=Progress())
    arrays = policy_arrays(model, None)
    teacher = teacher_of(model)
    returns = team_returns(teacher, 100, EVAL_SEED)
    random = team_returns(None, 100, EVAL_SEED)
    npz_path = out_dir / f"{ENV_ID}.npz"
    np.savez(npz_path, **arrays)
    probes = np.random.default_rng(0).normal(0.0, 0.7, size=(8, len(names["feature_names"]))).astype(np.float32)
    return {
        "file": npz_path.name,
        "sha256": hash_file(npz_path),
        "kind": "shared",
        "agents": names["agents"],
        "action_names": list(names["action_names"]),
        "feature_names": list(names["feature_names"]),
        "env_kwargs": names["env_kwargs"],
        "architecture": "Linear-Tanh-Linear-Tanh-Linear (SB3 PPO MlpPolicy policy net + action head), one policy shared by every agent",
        "algorithm": "parameter-shared PPO (stable-baselines3 on a VecEnv of agents; each agent learns from its own reward)",
        "hyperparameters": {**PPO_ARGS, "games": GAMES},
        "seed": seed,
        "steps": int(model.num_timesteps),
        "train_seconds": round(time.time() - started, 1),
        "return_mean": round(float(returns.mean()), 3),
        "return_std": round(float(returns.std()), 3),
        "random_return_mean": round(float(random.mean()), 3),
        "random_return_std": round(float(random.std()), 3),
        "return_is": "team return: rewards of every agent summed over the episode",
        "eval_episodes": len(returns),
        "eval_seed": EVAL_SEED,
        "ops_per_decision": teacher.ops_per_decision,
        "probes": {"states": probes.astype(float).tolist(), "sb3_probabilities": sb3_probabilities(model, None, probes).astype(float).tolist()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: python examples/train_team_teacher.py --evaluate 100")
    parser.add_argument("--evaluate", type=int, metavar="N", help="do not train: load the committed teacher and report N episodes")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="zoo directory to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.evaluate is not None:
        if args.evaluate < 1:
            parser.error("--evaluate needs a positive number of episodes, e.g. --evaluate 100")
        teacher = load_team_teacher(ENV_ID, args.out)
        r = team_returns(teacher.shared_policy, args.evaluate, EVAL_SEED)
        rr = team_returns(None, args.evaluate, EVAL_SEED)
        print(
            f"{ENV_ID}: team return {r.mean():.2f} ± {r.std():.2f} (random team {rr.mean():.2f} ± {rr.std():.2f}) over {args.evaluate} "
            f"episodes (seed {EVAL_SEED}), {teacher.ops_per_decision} multiply-adds per agent decision"
        )
        return 0
    entry = train(args.seed, args.out)
    _write_team_entry(args.out, entry)
    print(
        f"{ENV_ID}: team return {entry['return_mean']:.2f} ± {entry['return_std']:.2f} (random {entry['random_return_mean']:.2f}) after {entry['steps']} agent steps"
    )
    return 0


def _write_team_entry(out_dir: Path, entry: dict[str, Any]) -> None:
    import json

    path = out_dir / TEAM_INDEX
    index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"teachers": {}}
    index["teachers"][ENV_ID] = entry
    path.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
