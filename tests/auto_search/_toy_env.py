"""A seeded noisy task where a cheap student can be lucky: episodes are easy or hard at random.

Each step shows a state ``x ~ N(0, diag(1, s²))`` drawn from the environment's seeded generator
(never from the actions), and pays 1 when the action matches the teacher's rule
``x0 + c·x1 > 0``. On easy episodes (``s`` small) a depth-1 tree on ``x0`` almost never errs; on
hard ones (``s`` large, probability ``p_hard``) it errs often. So a few easy episodes in a row
rate it near the teacher, while its true retention is far lower.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np


class EasyOrHard(gym.Env):
    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, c: float = 0.5, p_hard: float = 0.3, steps: int = 20) -> None:
        self.c, self.p_hard, self.steps = c, p_hard, steps
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _draw(self) -> np.ndarray:
        return np.array([self.np_random.normal(), self.np_random.normal() * self.scale], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.scale = 3.0 if self.np_random.random() < self.p_hard else 0.05
        self.t, self.x = 0, self._draw()
        return self.x, {}

    def step(self, action: int):
        reward = float(int(action) == int(self.x[0] + self.c * self.x[1] > 0))
        self.t += 1
        self.x = self._draw()
        return self.x, reward, False, self.t >= self.steps, {}


def teacher_proba(c: float):
    """The teacher of ``EasyOrHard(c)``: a confident linear rule, as probabilities."""

    def proba(X: np.ndarray) -> np.ndarray:
        p1 = 1.0 / (1.0 + np.exp(np.clip(-20.0 * (X[:, 0] + c * X[:, 1]), -50, 50)))
        return np.stack([1.0 - p1, p1], axis=1)

    return proba


class RareCrash(gym.Env):
    """A task with a rare trap: each step pays 1 when the action is ``x0 > 0``; in a trap episode
    (probability ``p_trap``, drawn at reset) step ``trap_step`` shows ``x1 = 1`` and only action 1
    survives it — any other action ends the episode there. A student that ignores ``x1`` crashes
    in about half the trap episodes and looks perfect on episodes without one."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, p_trap: float = 0.08, steps: int = 20, trap_step: int = 5) -> None:
        self.p_trap, self.steps, self.trap_step = p_trap, steps, trap_step
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        return np.array([self.np_random.normal(), float(self.trap and self.t == self.trap_step)], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.trap = bool(self.np_random.random() < self.p_trap)
        self.t = 0
        self.x = self._obs()
        return self.x, {}

    def step(self, action: int):
        if self.x[1] > 0:  # the trap: only action 1 survives, and it pays nothing
            if int(action) != 1:
                return self.x, 0.0, True, False, {}
            reward = 0.0
        else:
            reward = float(int(action) == int(self.x[0] > 0))
        self.t += 1
        self.x = self._obs()
        return self.x, reward, False, self.t >= self.steps, {}


def rare_crash_teacher(X: np.ndarray) -> np.ndarray:
    """The teacher of ``RareCrash``: action 1 at the trap, else ``x0 > 0``, as probabilities."""
    act = np.where(X[:, 1] > 0.5, 1, X[:, 0] > 0).astype(int)
    return np.eye(2)[act] * 0.98 + 0.01
