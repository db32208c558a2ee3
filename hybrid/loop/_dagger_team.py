"""DAgger for a team: the controlled agents' students meet their own states, the teacher labels them.

The team form of ``hybrid.loop.dagger.dagger_iterates`` (same schedule, same refitting of fresh
clones, same seeds): in round ``i`` each controlled agent acts by the team teacher with
probability ``β_i`` at each step and by the student otherwise, partners are played by the
teacher, and the teacher labels every controlled agent's observation from the *joint*
observations — so a centralised teacher can label states its decentralised students reach.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.envs.team import TeamEnv, as_team_env
from hybrid.errors import DataError
from hybrid.loop._rollouts_team import label_dataset, team_actions
from hybrid.loop.dagger import _beta_schedule, _fit
from hybrid.loop.rollouts import episode_seeds
from hybrid.teachers.team import TeamTeacher, as_team_teacher


def team_search_teacher(env: Any, teacher: Any, data: Any) -> TeamTeacher:
    """The team teacher a search in team ``env`` scores against, after checking that the
    searched rows (``data.X``) are this team view's student features."""
    team, owned = as_team_env(env)
    try:
        check_team_dataset(team, data)
        return as_team_teacher(teacher, team.agents)
    finally:
        if owned:
            team.close()


def check_team_dataset(team: TeamEnv, dataset: Any) -> None:
    """Refuse a dataset whose rows are not this team view's student features (their width)."""
    agent = team.controlled[0]
    width = team.features(agent, np.zeros(team.n_observations(agent))).shape[1]
    n_features = int(np.shape(dataset.X)[1])
    if n_features != width:
        hint = "agent_features=True" if n_features == width + len(team.agents) else "agent_features=False" if width > n_features else "the same TeamEnv"
        raise DataError(
            f"the dataset has {n_features} features but a student of {team.env_id} here sees {width} "
            f"(observation{' + one-hot agent id' if team.agent_features else ''}); collect and search with the same view, e.g. TeamEnv(…, {hint})"
        )


def _mixture_rows(
    team: TeamEnv, teacher: TeamTeacher, student: Any, beta: float, seeds: list[int], rng: np.random.Generator, like: DistillDataset
) -> DistillDataset:
    greedy = team_actions(team, student, teacher)

    def decide(obs: Mapping[str, np.ndarray]) -> dict[str, int]:
        batch = {a: np.asarray(o)[None, :] for a, o in obs.items()}
        by_student = greedy(batch)
        by_teacher = teacher.team_predict(batch)
        return {a: int((by_teacher if a not in team.controlled or rng.random() < beta else by_student)[a][0]) for a in team.agents}

    labelled = label_dataset(team, teacher, team.run_episodes(decide, seeds))
    if labelled.feature_names != like.feature_names and like.feature_names is not None:
        raise DataError(f"DAgger rows are named {labelled.feature_names} but the dataset {like.feature_names}; collect with the same TeamEnv view")
    return DistillDataset(labelled.X, labelled.P, like.action_names, like.feature_names, agent_ids=labelled.agent_ids if like.agent_ids is not None else None)


def team_dagger_iterates(
    env: Any,
    teacher: Any,
    student: Any,
    dataset: DistillDataset,
    iterations: int,
    episodes_per_iteration: int = 5,
    beta: float | Callable[[int], float] = 0.5,
    seed: int = 0,
    weighting: str | None = None,
    *,
    start: Any = None,
) -> Generator[tuple[int, float, Any, DistillDataset], None, None]:
    """Yield ``(iteration, beta, fitted student, aggregate)`` as ``hybrid.loop.dagger.dagger_iterates``
    does, in a team environment (``TeamEnv``: which agents the student controls, its features)."""
    if iterations < 0 or episodes_per_iteration < 1:
        raise DataError(f"iterations must be ≥ 0 and episodes_per_iteration ≥ 1; got {iterations} and {episodes_per_iteration}")
    if weighting is not None:
        raise DataError("state weighting (VIPER) needs a one-agent teacher's values; team DAgger takes weighting=None")
    team, owned = as_team_env(env)
    team_teacher = as_team_teacher(teacher, team.agents)
    schedule = _beta_schedule(beta)
    rng = np.random.default_rng(seed)
    try:
        check_team_dataset(team, dataset)
        aggregate = dataset
        current = start if start is not None else _fit(student, aggregate, None, None)[0]
        yield 0, 1.0, current, dataset
        for i in range(1, iterations + 1):
            rows = _mixture_rows(team, team_teacher, current, schedule(i), episode_seeds(seed + 1 + i, episodes_per_iteration), rng, aggregate)
            aggregate = DistillDataset.concat([aggregate, rows])
            current, _ = _fit(start if start is not None else student, aggregate, None, None)
            yield i, schedule(i), current, aggregate
    finally:
        if owned:
            team.close()
