"""The environment adapter: gymnasium and PettingZoo environments behind the interface rollouts need.

A gymnasium environment is one agent; a PettingZoo parallel environment is a team of many
(``TeamEnv``). Either way every agent observes a 1-D ``Box`` and acts in a ``hybrid.spaces``
``ActionSpace`` (``Discrete`` or a bounded ``Box``), which turns a policy's action into what the
environment's ``step`` takes. Episode ``i`` of a call with ``seed`` resets with the ``i``-th seed
of ``episode_seeds(seed, …)``, so a teacher, a random policy and students scored with the same
seed meet the same episodes (paired comparisons).

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

import gymnasium as gym
import numpy as np

from hybrid.errors import DataError
from hybrid.spaces import ActionSpace, action_space_of

# known team environments: id → (module with parallel_env, the keyword arguments we use)
KNOWN_TEAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "simple_spread_v3": ("mpe2.simple_spread_v3", {"N": 3, "max_cycles": 25, "continuous_actions": False}),
}

# per-step reward bounds of gymnasium's own tasks (read off their step functions); times the time
# limit they bound an episode's return, which anytime-valid retention bounds need (hybrid.loop.bounds)
REWARD_BOUNDS: dict[str, tuple[float, float]] = {
    "CartPole": (0.0, 1.0),
    "Acrobot": (-1.0, 0.0),
    "MountainCar": (-1.0, 0.0),
    "Pendulum": (-(np.pi**2 + 0.1 * 8.0**2 + 0.001 * 2.0**2), 0.0),  # angle², speed ≤ 8, torque ≤ 2
}
_SAME_REWARDS = (gym.ObservationWrapper, gym.wrappers.TimeLimit, gym.wrappers.OrderEnforcing, gym.wrappers.PassiveEnvChecker)

TeamDecide = Callable[[Mapping[str, np.ndarray]], Mapping[str, Any]]  # observations by agent -> action by agent
Act = Callable[[np.ndarray], Any]  # one state -> an action index (Discrete) or vector (Box)


# -- one agent: gymnasium ------------------------------------------------------------------------
def make_env(env: str | gym.Env) -> tuple[gym.Env, bool]:
    """The environment, and whether we made it (and so must close it)."""
    if isinstance(env, str):
        try:
            return gym.make(env), True
        except gym.error.Error as e:
            raise DataError(f"cannot make environment {env!r}: {e}") from None
    if not isinstance(env, gym.Env):
        raise DataError(f"env must be a gymnasium id string or a gymnasium.Env (a team: a pettingzoo ParallelEnv or hybrid.TeamEnv); got {type(env).__name__}")
    return env, False


def env_id(env: gym.Env) -> str:
    """The environment's registered id, or its class name."""
    return env.spec.id if env.spec else type(env.unwrapped).__name__


def env_action_space(env: gym.Env) -> ActionSpace:
    """The ``ActionSpace`` of a gymnasium environment whose observations are a 1-D ``Box``."""
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise DataError(f"observations must be a Box (numeric vector); got {env.observation_space}")
    return action_space_of(env.action_space)


def return_bounds(env: Any) -> tuple[float, float] | None:
    """Where one episode's return must lie — per-step reward bounds × the time limit — for a
    gymnasium task in ``REWARD_BOUNDS`` made by id or wrapped only in wrappers that leave rewards
    alone; ``None`` for anything else (a team, a custom task, a reward wrapper)."""
    if isinstance(env, str):
        env_obj, _ = make_env(env)
        try:
            return return_bounds(env_obj)
        finally:
            env_obj.close()
    if not isinstance(env, gym.Env):
        return None
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if not isinstance(layer, _SAME_REWARDS):
            return None
        layer = layer.env
    spec = env.spec
    bounds = REWARD_BOUNDS.get(spec.id.split("-")[0]) if spec is not None else None
    if bounds is None or spec is None or not spec.max_episode_steps:
        return None
    return bounds[0] * spec.max_episode_steps, bounds[1] * spec.max_episode_steps


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """The reset seed of each episode: reproducible, and distinct across episodes."""
    if episodes < 1:
        raise DataError(f"episodes must be ≥ 1; got {episodes}")
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]


def run_episodes(env: gym.Env, act: Act, seeds: list[int]) -> tuple[list[np.ndarray], list[list[float]]]:
    """Roll ``act`` out for one episode per seed; per episode, the states seen and rewards got."""
    space, shape = env_action_space(env), env.action_space.shape
    states, rewards = [], []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        ep_states, ep_rewards, done = [], [], False
        while not done:
            x = np.asarray(obs, dtype=np.float32).reshape(-1)
            ep_states.append(x)
            obs, reward, terminated, truncated, _ = env.step(space.env_action(act(x), shape))
            ep_rewards.append(float(reward))
            done = terminated or truncated
        states.append(np.stack(ep_states))
        rewards.append(ep_rewards)
    return states, rewards


def env_copies(env: gym.Env, n: int, probe_seed: int = 0) -> list[gym.Env] | None:
    """``n`` independent instances of ``env`` (remade from its spec, else deep-copied) that reset
    to the same first observation for the same seed, or ``None`` when it cannot be copied
    faithfully (then episodes run one after another)."""
    import copy

    def remade() -> gym.Env:
        return gym.make(env.spec) if env.spec is not None else copy.deepcopy(env)

    try:
        copies = [remade() for _ in range(n)]
    except Exception:  # a wrapper without recorded arguments, an unpicklable simulator: try a deep copy
        try:
            copies = [copy.deepcopy(env) for _ in range(n)]
        except Exception:
            return None
    try:
        same = np.array_equal(np.asarray(env.reset(seed=probe_seed)[0]), np.asarray(copies[0].reset(seed=probe_seed)[0]))
    except Exception:
        same = False
    if not same:
        for c in copies:
            c.close()
        return None
    return copies


def run_episodes_batched(envs: Sequence[gym.Env], act: Callable[[np.ndarray], np.ndarray], seeds: list[int]) -> tuple[list[np.ndarray], list[list[float]]]:
    """``run_episodes`` with up to ``len(envs)`` episodes in lockstep: at each step one call of
    ``act`` (states ``[k, d]`` → ``k`` actions) decides for every running episode, since a
    batched decision costs little more than one. Same episodes, same order of results."""
    space, shape = env_action_space(envs[0]), envs[0].action_space.shape
    states: list[np.ndarray | None] = [None] * len(seeds)
    rewards: list[list[float]] = [[] for _ in seeds]
    running: dict[int, tuple[gym.Env, list[np.ndarray], np.ndarray]] = {}  # episode -> its env, states so far, last observation
    pending, free = iter(range(len(seeds))), list(envs)

    def start(env: gym.Env) -> None:
        i = next(pending, None)
        if i is not None:
            obs, _ = env.reset(seed=seeds[i])
            running[i] = (env, [], np.asarray(obs, dtype=np.float32).reshape(-1))

    for env in free:
        start(env)
    while running:
        order = sorted(running)
        X = np.stack([running[i][2] for i in order])
        actions = act(X)
        for row, i in enumerate(order):
            env, seen, x = running[i]
            seen.append(x)
            obs, reward, terminated, truncated, _ = env.step(space.env_action(actions[row], shape))
            rewards[i].append(float(reward))
            if terminated or truncated:
                states[i] = np.stack(seen)
                del running[i]
                start(env)
            else:
                running[i] = (env, seen, np.asarray(obs, dtype=np.float32).reshape(-1))
    return [s for s in states if s is not None], rewards


# -- a team: PettingZoo --------------------------------------------------------------------------


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
    """One episode: each agent's observations ``[T, d]`` and actions (``[T]`` indices or ``[T, m]``
    vectors), and rewards ``[T, n_agents]``."""

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
    ``spaces``: each agent's ``ActionSpace`` (``Discrete`` or a bounded ``Box``).
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
        self.spaces: dict[str, ActionSpace] = {a: self._agent_space(a) for a in self.agents}

    def _agent_space(self, agent: str) -> ActionSpace:
        obs = self.env.observation_space(agent)
        if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
            raise DataError(f"agent {agent!r} observes {obs}; team rollouts take a 1-D Box per agent (flatten others with a PettingZoo wrapper)")
        try:
            return action_space_of(self.env.action_space(agent))
        except DataError as e:
            raise DataError(f"agent {agent!r}: {e}") from None

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
        """Number of actions (discrete) or action dimensions (Box) of ``agent``."""
        return self.spaces[agent].n

    def action_space(self, agent: str) -> Any:
        """The gymnasium action space of ``agent`` (``spaces[agent]`` is its ``ActionSpace``)."""
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
        actions: dict[str, list[Any]] = {a: [] for a in self.agents}
        rewards: list[list[float]] = []
        while self.env.agents:
            if set(obs) != set(self.agents):
                raise DataError(
                    f"{self.env_id}: agents {sorted(set(self.agents) - set(obs))} left mid-episode (seed {seed}); team rollouts need every agent at every step"
                )
            current = {a: np.asarray(obs[a], dtype=np.float32).reshape(-1) for a in self.agents}
            chosen = {a: self.spaces[a].env_action(action) for a, action in decide(current).items()}
            for a in self.agents:
                observations[a].append(current[a])
                actions[a].append(chosen[a])
            obs, reward, terminated, truncated, _ = self.env.step({a: chosen[a] for a in self.agents})
            rewards.append([float(reward.get(a, 0.0)) for a in self.agents])
            if all(terminated.get(a, False) or truncated.get(a, False) for a in self.agents):
                break
        return TeamEpisode(
            {a: np.stack(v) for a, v in observations.items()},
            {a: np.asarray(v) for a, v in actions.items()},
            np.asarray(rewards, dtype=np.float64).reshape(-1, len(self.agents)),
        )

    def random_episode(self, seed: int) -> TeamEpisode:
        """A uniformly random team on the episode of ``seed`` (each agent's space seeded from it)."""
        spaces = {a: self.env.action_space(a) for a in self.agents}  # held: an env may build a new space per call
        for i, a in enumerate(self.agents):
            spaces[a].seed(seed + i)
        return self._episode(lambda obs: {a: spaces[a].sample() for a in self.agents}, seed)


def as_team_env(env: Any, **view: Any) -> tuple[TeamEnv, bool]:
    """``env`` as a ``TeamEnv``, and whether we made it (and so must close it)."""
    if isinstance(env, TeamEnv):
        return (env.with_view(**view) if view else env), False
    return TeamEnv(env, **view), not is_parallel_env(env)  # an environment the caller made stays open


def open_env(env: Any) -> tuple[gym.Env | TeamEnv, bool]:
    """``env`` opened once for several rollouts: a ``TeamEnv`` for a team, else a gymnasium
    ``Env``; and whether we made it (and so must close it)."""
    return as_team_env(env) if is_team_env(env) else make_env(env)
