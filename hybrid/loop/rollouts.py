"""Rollouts in gymnasium: collect teacher decisions, and measure a policy's closed-loop return.

Episode ``i`` of a call with ``seed`` resets the environment with the ``i``-th seed drawn from
``numpy.random.SeedSequence(seed)``, so two policies evaluated with the same seed start from
the same states (paired comparisons) and every figure is reproducible.

The environment's action space decides the action kind, in one place (``action_kind``): a
``Discrete`` space takes action indices chosen from probabilities, a ``Box`` takes bounded
action vectors; ``collect``, ``closed_loop`` and ``evaluate`` serve both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import gymnasium as gym
import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.data.store import TrajectoryStore
from hybrid.errors import DataError
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import Teacher, state_weights
from hybrid.teachers.sb3 import is_sb3_model

Act = Callable[[np.ndarray], Any]  # one state -> an action index (Discrete) or vector (Box)


class Rollouts(NamedTuple):
    """What ``collect`` returns; unpacks as ``dataset, returns``."""

    dataset: DistillDataset
    returns: np.ndarray


class EpisodeReturns:
    """Mean and spread of the per-episode ``returns`` of a closed-loop measurement."""

    returns: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))


@dataclass(frozen=True)
class ClosedLoop(EpisodeReturns):
    """A policy's closed-loop measurement: returns per episode, and (given a teacher) how often
    the policy agreed with the teacher's greedy action on the states the policy itself visited
    (continuous actions: share within ``metrics.DEFAULT_TOLERANCE`` of each dimension's range)."""

    returns: np.ndarray
    states: np.ndarray
    agreement: float | None


def _is_team(env: Any) -> bool:
    from hybrid.envs.team import is_team_env

    return is_team_env(env)


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


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """The reset seed of each episode: reproducible, and distinct across episodes."""
    if episodes < 1:
        raise DataError(f"episodes must be ≥ 1; got {episodes}")
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]


def action_kind(env: gym.Env) -> str:
    """``"discrete"`` for a ``Discrete`` action space, ``"continuous"`` for a bounded 1-D ``Box``."""
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise DataError(f"observations must be a Box (numeric vector); got {env.observation_space}")
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1 and space.is_bounded("both"):
        return "continuous"
    raise DataError(
        f"{env.spec.id if env.spec else env} has action space {space}; agent-distill takes a Discrete "
        "space or a bounded 1-D Box (wrap others, e.g. with gymnasium.wrappers.RescaleAction)"
    )


def _check_spaces(env: gym.Env) -> None:
    action_kind(env)


def _env_action(env: gym.Env) -> Callable[[Any], Any]:
    """What ``env.step`` takes from a policy's action: an ``int`` index, or a float32 vector."""
    if action_kind(env) == "discrete":
        return int
    shape = env.action_space.shape
    return lambda a: np.asarray(a, dtype=np.float32).reshape(shape)


def run_episodes(env: gym.Env, act: Act, seeds: list[int]) -> tuple[list[np.ndarray], list[list[float]]]:
    """Roll ``act`` out for one episode per seed; per episode, the states seen and rewards got."""
    to_env = _env_action(env)
    states, rewards = [], []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        ep_states, ep_rewards, done = [], [], False
        while not done:
            x = np.asarray(obs, dtype=np.float32).reshape(-1)
            ep_states.append(x)
            obs, reward, terminated, truncated, _ = env.step(to_env(act(x)))
            ep_rewards.append(float(reward))
            done = terminated or truncated
        states.append(np.stack(ep_states))
        rewards.append(ep_rewards)
    return states, rewards


def policy_actions(policy: Any, action_space: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    """Batch greedy actions of a student (``predict``), a probability model or anything
    ``as_teacher`` adapts: ``X[n, d] -> int64[n]``, or ``float32[n, m]`` given a ``Box``."""
    continuous = isinstance(action_space, gym.spaces.Box)
    if callable(getattr(policy, "predict", None)) and not is_sb3_model(policy):  # SB3's predict returns a tuple
        if continuous:
            return lambda X: np.asarray(policy.predict(X), dtype=np.float32).reshape(len(X), -1)
        return lambda X: np.asarray(policy.predict(X)).reshape(-1).astype(np.int64)
    return as_teacher(policy, action_space=action_space if continuous else None).predict


def collect(
    env: str | gym.Env,
    teacher: Any,
    episodes: int = 10,
    seed: int = 0,
    store: TrajectoryStore | None = None,
    *,
    sample: bool = False,
    weighting: str | None = None,
) -> Rollouts:
    """Roll the teacher out and return its decisions as a dataset with the episode returns.

    The teacher acts greedily, or samples from its probabilities when ``sample`` (seeded).
    With a ``store`` every step (state, probabilities, action, reward, done) is logged as a new
    run and the run id is in ``dataset.meta["run_id"]``. ``weighting`` ("q" or "margin") adds
    VIPER-style state weights.

    A team environment (a PettingZoo ParallelEnv, a ``hybrid.TeamEnv`` or a known team id) is
    rolled out by ``hybrid.loop._rollouts_team.team_collect``: every decision keyed by its agent.

    In a ``Box`` action space the dataset holds the teacher's deterministic actions (and its
    std when it has one); ``sample`` adds Gaussian noise of that std, and ``weighting`` favours
    states where the std is small (see ``hybrid.teachers.base.continuous_weights``).
    """
    if _is_team(env):
        if sample or weighting is not None:
            raise DataError("team rollouts log the teacher's greedy decisions: sample and weighting are for one agent; leave them out")
        from hybrid.loop._rollouts_team import team_collect

        return team_collect(env, teacher, episodes, seed, store)
    env_obj, owned = make_env(env)
    try:
        if action_kind(env_obj) == "continuous":
            from hybrid.loop._rollouts_box import collect_continuous

            return collect_continuous(env_obj, teacher, episodes, seed, store, sample=sample, weighting=weighting)
        teacher = as_teacher(teacher)
        rng = np.random.default_rng(seed)
        seeds = episode_seeds(seed, episodes)
        records: list[tuple[np.ndarray, np.ndarray, int]] = []
        n_env_actions = int(cast(gym.spaces.Discrete, env_obj.action_space).n)  # action_kind checked it

        def act(x: np.ndarray) -> int:
            p = teacher.predict_proba(x[None, :])[0]
            if len(p) != n_env_actions:
                raise DataError(f"the environment has {n_env_actions} actions but teacher {teacher.identity!r} gives {len(p)}")
            a = int(rng.choice(len(p), p=p / p.sum())) if sample else int(np.argmax(p))
            records.append((x, p, a))
            return a

        _, rewards = run_episodes(env_obj, act, seeds)
        X = np.stack([r[0] for r in records])
        P = np.stack([r[1] for r in records])
        env_id = env_obj.spec.id if env_obj.spec else type(env_obj.unwrapped).__name__
        meta: dict[str, Any] = {"source": "collect", "env": env_id, "teacher": teacher.identity, "seed": seed, "episodes": episodes}
        if store is not None:
            meta["run_id"] = _log(store, teacher, env_id, seed, X, P, np.array([r[2] for r in records]), rewards)
        weights = None
        if weighting is not None:
            weights, meta["weighting"] = state_weights(teacher, X, P, weighting)
        dataset = DistillDataset(X, P, teacher.action_names, teacher.feature_names, weights, meta)
        return Rollouts(dataset, np.array([sum(r) for r in rewards], dtype=np.float64))
    finally:
        if owned:
            env_obj.close()


def _log(
    store: TrajectoryStore, teacher: Teacher, env_id: str, seed: int, X: np.ndarray, P: np.ndarray, actions: np.ndarray, rewards: list[list[float]]
) -> int:
    lengths = [len(r) for r in rewards]
    episode = np.repeat(np.arange(len(lengths)), lengths)
    dones = np.zeros(len(X), dtype=bool)
    dones[np.cumsum(lengths) - 1] = True
    run_id = store.start_run(
        teacher.action_names,
        teacher.feature_names,
        n_features=X.shape[1],
        teacher=teacher.content_hash or teacher.identity,
        env=env_id,
        seed=seed,
        source="collect",
    )
    store.log_steps(run_id, X, P, episode=episode, actions=actions, rewards=np.concatenate(rewards), dones=dones)
    return run_id


def closed_loop(env: str | gym.Env, policy: Any, episodes: int, seed: int, teacher: Any = None) -> Any:
    """Roll ``policy`` out greedily; with a ``teacher``, also its agreement on the visited states.
    In a team environment: ``hybrid.loop._rollouts_team.team_closed_loop`` (team returns)."""
    if _is_team(env):
        from hybrid.loop._rollouts_team import team_closed_loop

        return team_closed_loop(env, policy, episodes, seed, teacher)
    env_obj, owned = make_env(env)
    try:
        continuous = action_kind(env_obj) == "continuous"
        space = cast(gym.spaces.Box, env_obj.action_space) if continuous else None  # action_kind checked it
        actions = policy_actions(policy, space)
        states, rewards = run_episodes(env_obj, lambda x: actions(x[None, :])[0], episode_seeds(seed, episodes))
    finally:
        if owned:
            env_obj.close()
    X = np.concatenate(states)
    agreement = None
    if teacher is not None and continuous:
        from hybrid.metrics import action_fidelity

        assert space is not None
        agreement = action_fidelity(as_teacher(teacher, action_space=space).predict(X), actions(X), space.low, space.high)
    elif teacher is not None:
        agreement = float(np.mean(actions(X) == as_teacher(teacher).predict(X)))
    return ClosedLoop(np.array([sum(r) for r in rewards], dtype=np.float64), X, agreement)


def evaluate(env: str | gym.Env, policy: Any, episodes: int = 10, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the greedy closed-loop return of ``policy``."""
    result = closed_loop(env, policy, episodes, seed)
    return result.mean_return, result.std_return
