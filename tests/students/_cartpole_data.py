"""CartPole teacher data shared by the MLP, hybrid and ONNX tests (built once per session)."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np


def _teacher_proba(states: np.ndarray) -> np.ndarray:
    """A smooth linear-logistic CartPole controller (balances for 500 steps) with soft outputs."""
    z = 8.0 * (states[:, 2] + 0.4 * states[:, 3] + 0.05 * states[:, 0] + 0.15 * states[:, 1])
    p_right = 1.0 / (1.0 + np.exp(-z))
    return np.stack([1.0 - p_right, p_right], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=None)
def cartpole_teacher_data(n_states: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States visited by the teacher (actions sampled from its probabilities) and its probabilities."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    states = []
    state, _ = env.reset(seed=seed)
    while len(states) < n_states:
        states.append(state)
        p = _teacher_proba(state[None, :])[0]
        state, _, terminated, truncated, _ = env.step(int(rng.random() < p[1]))
        if terminated or truncated:
            state, _ = env.reset(seed=int(rng.integers(2**31)))
    env.close()
    X = np.asarray(states, dtype=np.float32)
    X.setflags(write=False)
    P = _teacher_proba(X)
    P.setflags(write=False)
    return X, P
