"""Stochastic versions of deterministic tasks, to test choosing by return where episodes vary.

``ObservationNoise`` adds Gaussian sensor noise to every observation, drawn from the
environment's own seeded generator, so ``reset(seed=s)`` still fixes the whole episode and
paired comparisons (student and teacher on the same seeds) stay exact. ``make_stochastic``
builds the visible stochastic cases: LunarLander with gymnasium's wind and turbulence, and
CartPole or Acrobot with observation noise.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from hybrid.errors import DataError


class ObservationNoise(gym.ObservationWrapper):
    """Observations plus ``N(0, sigma²)`` noise per coordinate (``sigma`` a float or one per coordinate)."""

    def __init__(self, env: gym.Env, sigma: float | np.ndarray) -> None:
        super().__init__(env)
        self.sigma = np.asarray(sigma, dtype=np.float64)
        if np.any(self.sigma < 0) or not np.all(np.isfinite(self.sigma)):
            raise DataError(f"observation noise sigma must be finite and ≥ 0; got {sigma!r}")

    def observation(self, observation: Any) -> Any:
        obs = np.asarray(observation)
        noise = self.np_random.normal(0.0, 1.0, size=obs.shape) * self.sigma
        return (obs + noise).astype(obs.dtype)


def make_stochastic(env_id: str, strength: float) -> gym.Env:
    """A stochastic variant of a committed task: ``LunarLander-v3`` with wind ``strength``
    (gymnasium's ``wind_power``; turbulence at a tenth of it, as gymnasium's defaults relate
    them), ``CartPole-v1`` / ``Acrobot-v1`` with observation noise of ``strength``."""
    if strength < 0:
        raise DataError(f"strength must be ≥ 0; got {strength}")
    if env_id.startswith("LunarLander"):
        return gym.make(env_id, enable_wind=strength > 0, wind_power=strength, turbulence_power=strength / 10)
    if env_id.startswith(("CartPole", "Acrobot")):
        return ObservationNoise(gym.make(env_id), strength)
    raise DataError(f"no stochastic variant of {env_id!r}; use LunarLander-v3, CartPole-v1 or Acrobot-v1, or wrap your own env in ObservationNoise")
