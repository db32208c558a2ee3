"""Shared fixtures: a seed-style three-action toy teacher and a small world it can act in."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # the machine is shared: keep each test process on one core


class ToyTeacher:
    """A seed-style agent: ``act(state)`` returns ``{action: probability}`` for a 1-D world.

    It moves toward the origin, and prefers to stay when already close; the preference is
    softened by the speed so the probabilities are not one-hot.
    """

    actions = ("move_left", "move_right", "stay")

    def act(self, state: Any) -> dict[str, float]:
        position, speed = float(state[0]), float(state[1])
        logits = np.array([position + 0.5 * speed, -position - 0.5 * speed, 1.0 - 2.0 * abs(position)])
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return dict(zip(self.actions, p.tolist()))


class LineWorld(gym.Env):
    """A point on a line, pushed left, right or not at all; reward is minus the distance to 0."""

    observation_space = gym.spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = np.array([self.np_random.uniform(-4, 4), 0.0], dtype=np.float32)
        self._t = 0
        return self._state.copy(), {}

    def step(self, action: int):
        push = (-0.5, 0.5, 0.0)[int(action)]
        speed = 0.5 * self._state[1] + push
        self._state = np.clip(np.array([self._state[0] + speed, speed], dtype=np.float32), -10, 10)
        self._t += 1
        return self._state.copy(), -abs(float(self._state[0])), False, self._t >= 20, {}


@pytest.fixture
def toy_teacher() -> ToyTeacher:
    return ToyTeacher()


@pytest.fixture
def line_world() -> LineWorld:
    return LineWorld()


@pytest.fixture
def toy_states() -> np.ndarray:
    return np.random.default_rng(0).normal(scale=2.0, size=(200, 2)).astype(np.float32)
