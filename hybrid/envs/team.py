"""Team environments: a PettingZoo parallel environment behind the one interface rollouts need.

``TeamEnv`` wraps a ``pettingzoo.ParallelEnv`` (an instance, a factory, or the id of a known
one such as ``"simple_spread_v3"``) and runs seeded episodes in which a *team decision* —
observations of every agent in, one action per agent out — is taken at each step. It also
says how one agent's observation becomes a student's input (``features``): the observation
itself, plus a one-hot agent id when ``agent_features`` is set, so one shared student can still
act differently per agent. ``controlled`` names the agents a searched student plays; the
others (its *partners*) are played by the team teacher, which is how one student per agent is
scored by the team's return.

The team return is the sum of every agent's rewards over the episode. Agents must all act at
every step of an episode (as in MPE); environments whose agents leave mid-episode are refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.errors import DataError

# known team environments: id → (module with parallel_env, the keyword arguments we use)
KNOWN_TEAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "simple_spread_v3": ("mpe2.simple_spread_v3", {"N": 3, "max_cycles": 25, "continuous_actions": False}),
}

TeamDecide = Callable[[Mapping[str, np.ndarray]], Mapping[str, int]]  # observations by agent -> action by agent


def team_factory(env_id: str, **kwargs: Any) -> Callable[[], Any]:
    """A factory of the known parallel environment ``env_id`` (``KNOWN_TEAMS``), ``kwargs``
    overriding its defaults."""
    if env_id not in KNOWN_TEAMS:
        raise DataError(f"unknown team environment {env_id!r}; known: {sorted(KNOWN_TEAMS)}, or pass a pettingzoo ParallelEnv (or a factory of one)")
    module_name, defaults = KNOWN_TEAMS[env_id]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise DataError(f"team environment {env_id!r} needs {module_name.split('.')[0]}: pip install 'agent-distill[team]'") from None
    return lambda: module.parallel_env(**{**defaults, **kwargs})


def is_parallel_env(env: Any) -> bool:
    """Whether ``env`` is a PettingZoo ParallelEnv (checked without importing pettingzoo when absent)."""
    try:
        from pettingzoo.utils.env import ParallelEnv
    except ImportError:
        return False
    return isinstance(env, ParallelEnv)


def is_team_env(env: Any) -> bool:
    """Whether rollouts should treat ``env`` as a team: a ``TeamEnv``, a ParallelEnv or a known team id."""
    return isinstance(env, TeamEnv) or is_parallel_env(env) or (isinstance(env, str) and env in KNOWN_TEAMS)


@dataclass(frozen=True)
class TeamEpisode:
    """One episode: each agent's observations ``[T, d]`` and actions ``[T]``, and rewards ``[T, n_agents]``."""

    observations: dict[str, np.ndarray]
    actions: dict[str, np.ndarray]
    rewards: np.ndarray

    @property
    def team_return(self) -> float:
        """Every agent's rewards summed over the episode."""
        return float(self.rewards.sum())

    def __len__(self) -> int:
        return int(self.rewards.shape[0])


class TeamEnv:
    """A PettingZoo parallel environment with seeded team episodes and student features.

    ``env``: a known id (``KNOWN_TEAMS``), a ``ParallelEnv`` or a zero-argument factory of one.
    ``agent_features``: append a one-hot agent id to each agent's observation in ``features``.
    ``controlled``: the agents a searched student plays (default: all); the rest are partners.
    """

    def __init__(self, env: Any, *, agent_features: bool = False, controlled: Sequence[str] | None = None) -> None:
        self.env_id = env if isinstance(env, str) else None
        raw = team_factory(env)() if isinstance(env, str) else env() if callable(env) and not is_parallel_env(env) else env
        if not is_parallel_env(raw):
            raise DataError(
                f"a team environment must be a pettingzoo ParallelEnv (e.g. mpe2.simple_spread_v3.parallel_env()); got {type(raw).__name__}. "
                "Convert an AEC environment with pettingzoo.utils.conversions.aec_to_parallel, or use a gymnasium id for one agent"
            )
        self.env = raw
        self.env_id = self.env_id or str(getattr(raw, "metadata", {}).get("name", type(raw).__name__))
        self.agents: tuple[str, ...] = tuple(raw.possible_agents)
        self.agent_features = agent_features
        self.controlled: tuple[str, ...] = self.agents if controlled is None else tuple(controlled)
        unknown = sorted(set(self.controlled) - set(self.agents))
        if unknown or not self.controlled:
            raise DataError(f"controlled agents {list(self.controlled)} must be a non-empty subset of the team {list(self.agents)}")
        self._check_spaces()

    def _check_spaces(self) -> None:
        import gymnasium as gym

        for a in self.agents:
            obs, act = self.env.observation_space(a), self.env.action_space(a)
            if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
                raise DataError(f"agent {a!r} observes {obs}; team rollouts take a 1-D Box per agent (flatten others with a PettingZoo wrapper)")
            if not isinstance(act, gym.spaces.Discrete):
                raise DataError(f"agent {a!r} acts in {act}; team rollouts take Discrete actions (e.g. mpe2 with continuous_actions=False)")

    def with_view(self, *, agent_features: bool | None = None, controlled: Sequence[str] | None = None) -> TeamEnv:
        """The same environment object seen with other student features or controlled agents."""
        view = object.__new__(TeamEnv)
        view.__dict__.update(self.__dict__)
        if agent_features is not None:
            view.agent_features = agent_features
        if controlled is not None:
            view.controlled = tuple(controlled)
        return view

    def close(self) -> None:
        self.env.close()

    # -- what an agent sees and does -----------------------------------------------------------
    def n_observations(self, agent: str) -> int:
        return int(np.prod(self.env.observation_space(agent).shape))

    def n_actions(self, agent: str) -> int:
        return int(self.env.action_space(agent).n)

    def action_space(self, agent: str) -> Any:
        return self.env.action_space(agent)

    def feature_names(self, agent: str, observation_names: Sequence[str] | None = None) -> list[str]:
        """Names of a student's input columns for ``agent``: observation names, then ``is_<agent>``."""
        names = list(observation_names) if observation_names is not None else [f"obs_{i}" for i in range(self.n_observations(agent))]
        return names + ([f"is_{a}" for a in self.agents] if self.agent_features else [])

    def check_shared(self, agents: Sequence[str]) -> None:
        """Refuse one student (or one dataset) for agents whose observations differ in size."""
        sizes = {a: self.n_observations(a) for a in agents}
        if len(set(sizes.values())) > 1:
            raise DataError(
                f"agents of {self.env_id} observe different numbers of values ({sizes}); one shared student needs equal sizes: "
                "give one student per agent ({agent: student}), or search each agent alone with TeamEnv(…, controlled=[agent])"
            )

    def features(self, agent: str, obs: np.ndarray) -> np.ndarray:
        """A student's input for ``agent`` from its observations ``[n, d]`` (or one ``[d]``) → ``[n, d']``."""
        X = np.asarray(obs, dtype=np.float32).reshape(-1, self.n_observations(agent))
        if not self.agent_features:
            return X
        onehot = np.zeros((len(X), len(self.agents)), dtype=np.float32)
        onehot[:, self.agents.index(agent)] = 1.0
        return np.hstack([X, onehot])

    # -- episodes ------------------------------------------------------------------------------
    def run_episodes(self, decide: TeamDecide, seeds: Sequence[int]) -> list[TeamEpisode]:
        """One episode per seed with ``decide`` choosing every agent's action at each step."""
        return [self._episode(decide, int(s)) for s in seeds]

    def _episode(self, decide: TeamDecide, seed: int) -> TeamEpisode:
        obs, _ = self.env.reset(seed=seed)
        observations: dict[str, list[np.ndarray]] = {a: [] for a in self.agents}
        actions: dict[str, list[int]] = {a: [] for a in self.agents}
        rewards: list[list[float]] = []
        while self.env.agents:
            if set(obs) != set(self.agents):
                raise DataError(
                    f"{self.env_id}: agents {sorted(set(self.agents) - set(obs))} left mid-episode (seed {seed}); team rollouts need every agent at every step"
                )
            current = {a: np.asarray(obs[a], dtype=np.float32).reshape(-1) for a in self.agents}
            chosen = decide(current)
            for a in self.agents:
                observations[a].append(current[a])
                actions[a].append(int(chosen[a]))
            obs, reward, terminated, truncated, _ = self.env.step({a: int(chosen[a]) for a in self.agents})
            rewards.append([float(reward.get(a, 0.0)) for a in self.agents])
            if all(terminated.get(a, False) or truncated.get(a, False) for a in self.agents):
                break
        return TeamEpisode(
            {a: np.stack(v) for a, v in observations.items()},
            {a: np.asarray(v, dtype=np.int64) for a, v in actions.items()},
            np.asarray(rewards, dtype=np.float64).reshape(-1, len(self.agents)),
        )

    def random_episode(self, seed: int) -> TeamEpisode:
        """A uniformly random team on the episode of ``seed`` (each agent's space seeded from it)."""
        spaces = {a: self.env.action_space(a) for a in self.agents}  # held: an env may build a new space per call
        for i, a in enumerate(self.agents):
            spaces[a].seed(seed + i)
        return self._episode(lambda obs: {a: int(spaces[a].sample()) for a in self.agents}, seed)


def as_team_env(env: Any, **view: Any) -> tuple[TeamEnv, bool]:
    """``env`` as a ``TeamEnv``, and whether we made it (and so must close it)."""
    if isinstance(env, TeamEnv):
        return (env.with_view(**view) if view else env), False
    return TeamEnv(env, **view), not is_parallel_env(env)  # an environment the caller made stays open
