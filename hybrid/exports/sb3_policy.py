"""A fitted student behind Stable-Baselines3's policy signature, so code written for an SB3
model — ``action, state = model.predict(obs, deterministic=True)`` — runs the student unchanged.

The space of the student's actions decides what comes back: an action index for discrete
actions (sampled from its probabilities when ``deterministic=False``), an action vector within
the bounds for continuous ones (a student's actions are deterministic, so sampling changes
nothing there). One observation gives one action; a batch ``[n_envs, d]`` gives ``[n_envs]``
(or ``[n_envs, m]``), as SB3 does for vectorised environments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import DataError


class StudentPolicy:
    """``predict(observation, state=None, episode_start=None, deterministic=False) -> (action, None)``
    over a fitted ``student``; ``seed`` seeds the sampling of ``deterministic=False``."""

    def __init__(self, student: Any, *, seed: int | None = None) -> None:
        space = student.action_space  # refuses an unfitted student (NotFittedError)
        self.student = student
        self.space = space
        self.n_features = int(student.n_features_in_)
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> tuple[np.ndarray, None]:
        """The student's action for ``observation`` (one state or a batch), and ``None`` as the
        recurrent state (a student keeps none)."""
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        X = obs.reshape(1, -1) if single else obs.reshape(len(obs), -1)
        if X.shape[1] != self.n_features:
            raise DataError(f"observation has {X.shape[1]} values but the student reads {self.n_features}; pass the environment's observation")
        if self.space.is_discrete and not deterministic:
            P = self.student.predict_proba(X)
            actions = np.array([self.rng.choice(P.shape[1], p=p / p.sum()) for p in P])
        else:
            actions = np.asarray(self.student.predict(X))
        return (actions[0] if single else actions), None

    def __call__(self, observation: Any) -> np.ndarray:
        """The deterministic action, for code that calls a policy as a function."""
        return self.predict(observation, deterministic=True)[0]

    def __repr__(self) -> str:
        return f"StudentPolicy({type(self.student).__name__}, {self.space!r})"


def as_policy(student: Any, *, seed: int | None = None) -> StudentPolicy:
    """``student`` with SB3's ``predict(obs, state, episode_start, deterministic)`` signature."""
    return StudentPolicy(student, seed=seed)
