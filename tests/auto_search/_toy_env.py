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
