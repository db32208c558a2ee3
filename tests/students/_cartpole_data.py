"""CartPole teacher data shared by the MLP, hybrid and ONNX tests (built once per session)."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np

from hybrid.teachers.zoo import load_teacher


@functools.cache
def cartpole_teacher_data(n_states: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States the committed CartPole teacher visits (actions sampled from its probabilities,
    seeded) and its probabilities there; read-only, shared by every test in the session."""
    teacher = load_teacher("CartPole-v1")
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    states = []
    state, _ = env.reset(seed=seed)
    while len(states) < n_states:
        states.append(state)
        p = teacher.predict_proba(state[None, :])[0]
        state, _, terminated, truncated, _ = env.step(int(rng.random() < p[1]))
        if terminated or truncated:
            state, _ = env.reset(seed=int(rng.integers(2**31)))
    env.close()
    X = np.asarray(states, dtype=np.float32)
    P = teacher.predict_proba(X).astype(np.float32)
    P /= P.sum(axis=1, keepdims=True)
    X.setflags(write=False)
    P.setflags(write=False)
    return X, P
