"""A tiny PettingZoo parallel team for fast tests: each agent sees a signal and should say its sign.

Two agents by default; agent ``i`` observes ``[x_i, x_other]`` (``obs_sizes`` may give agents
other sizes, padded with zeros). Reward: +1 per agent whose action is ``x_i + mix * x_other > 0``;
episodes last ``steps`` steps. ``mix`` > 0 makes the best action depend on the other agent.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv


class SignTeam(ParallelEnv):
    metadata: ClassVar[dict[str, Any]] = {"name": "sign_team_v0"}

    def __init__(self, n_agents: int = 2, steps: int = 10, mix: float = 0.0, obs_sizes: list[int] | None = None) -> None:
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.steps, self.mix = steps, mix
        self.sizes = dict(zip(self.possible_agents, obs_sizes or [2] * n_agents))
        self.rng = np.random.default_rng(0)
        self.x = np.zeros(n_agents)
        self.t = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.sizes[agent],), np.float32)

    def action_space(self, agent: str) -> spaces.Discrete:
        return spaces.Discrete(2)

    def _obs(self) -> dict[str, np.ndarray]:
        out = {}
        for i, a in enumerate(self.possible_agents):
            o = np.zeros(self.sizes[a], dtype=np.float32)
            o[:2] = [self.x[i], self.x[(i + 1) % len(self.x)]]
            out[a] = o
        return out

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        self.x = self.rng.uniform(-1, 1, len(self.possible_agents))
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        n = len(self.possible_agents)
        rewards = {a: float(int(actions[a]) == int(self.x[i] + self.mix * self.x[(i + 1) % n] > 0)) for i, a in enumerate(self.possible_agents)}
        self.t += 1
        self.x = self.rng.uniform(-1, 1, n)
        done = self.t >= self.steps
        trunc = {a: done for a in self.agents}
        term = {a: False for a in self.agents}
        obs = self._obs()
        if done:
            self.agents = []
        return obs, rewards, term, trunc, {a: {} for a in self.possible_agents}

    def close(self) -> None:
        pass


def sign_teacher(X: np.ndarray) -> np.ndarray:
    """Shared teacher: the sign of the agent's own signal, as probabilities."""
    p = (np.asarray(X)[:, 0] > 0).astype(np.float64)
    return np.stack([1 - p, p], axis=1) * 0.9 + 0.05


def centralised_sign(mix: float, n_agents: int = 2):
    """A centralised teacher: sees both signals and answers ``x_i + mix * x_other > 0``."""
    from hybrid.teachers.team import TeamTeacher

    def joint(X: np.ndarray) -> np.ndarray:
        x = np.asarray(X).reshape(len(X), n_agents, -1)[:, :, 0]
        target = (x + mix * np.roll(x, -1, axis=1) > 0).astype(np.float64)
        return np.stack([1 - target, target], axis=2) * 0.9 + 0.05

    return TeamTeacher.centralised(joint, [f"agent_{i}" for i in range(n_agents)], ["no", "yes"], identity="central sign", content_hash="sha256:" + "0" * 64)
