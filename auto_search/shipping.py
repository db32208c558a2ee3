"""From the chosen candidate to the student that ships, with figures measured on that student.

The policy chooses a candidate; with an environment the chosen student then gets DAgger rounds
on every training row plus the states it visits — never the held-out rows it is scored on. A
candidate chosen from an early halving rung was fitted on a share of the training rows only, so
its rounds also refit it on all of them.
A round's student replaces the chosen one only if it still holds the policy's declared bound
(cost, fidelity or retention, see ``Policy.bound_holds``) and, for a retention policy, only as
the policy itself would choose among them (cheapest whose lower bound clears the bar). The
student that ships is then scored afresh: fidelity and KL on the held-out split, its own cost,
and its retention on confirmation episodes that no choice has seen.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from auto_search import continuous
from auto_search.closed_loop import CONFIRMATION_SEED_OFFSET, LoopScore, PairedEpisodes
from auto_search.config import SearchConfig
from auto_search.evaluate import Candidate, SplitData, score_student
from auto_search.policies import MinRetention, Policy

if TYPE_CHECKING:
    from hybrid.data.dataset import DistillDataset


DAGGER_BETA = 0.5  # share of steps the teacher drives while the student's states are collected


@dataclass(frozen=True)
class Shipped:
    """The student that ships and its own figures (all measured on it).

    ``source`` says whether it is the chosen candidate or a DAgger round of it; ``reason`` says
    why; ``loop`` holds its closed-loop figures on confirmation episodes (``None`` without an
    environment).
    """

    content_hash: str
    family: str
    source: str
    reason: str
    fidelity: float
    kl: float
    parameters: int
    ops_per_decision: float
    bytes: int
    confusion: list[list[int]] | None  # None for continuous actions (no top-1 to confuse)
    loop: dict[str, Any] | None = None
    parent: str | None = None  # the chosen candidate's hash when a DAgger round ships

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def held_out_figures(student: Any, data: SplitData) -> dict[str, Any]:
    """Fidelity, KL, cost and content hash of ``student`` on the held-out split."""
    fidelity, kl = score_student(student, data)
    cost = student.cost()
    return {
        "fidelity": fidelity,
        "kl": kl,
        "parameters": int(cost.parameters),
        "ops_per_decision": float(cost.ops_per_decision),
        "bytes": int(cost.bytes),
        "content_hash": student.content_hash,
    }


def student_confusion(student: Any, data: SplitData) -> list[list[int]] | None:
    """The held-out confusion table of a discrete student; None for continuous actions."""
    if continuous.is_continuous(data):
        return None
    return confusion(data.P_val, student.predict_proba(data.X_val))


def confusion(P_teacher: np.ndarray, P_student: np.ndarray) -> list[list[int]]:
    """Counts of [teacher action][student action] on held-out states."""
    k = P_teacher.shape[1]
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (P_teacher.argmax(axis=1), P_student.argmax(axis=1)), 1)
    return m.tolist()


def dagger_rounds(
    chosen: Candidate,
    student: Any,
    *,
    data: SplitData,
    config: SearchConfig,
    env: Any,
    teacher: Any,
    episodes: PairedEpisodes,
    bar: float | None,
    deadline: float,
) -> tuple[list[Candidate], dict[int, Any], bool]:
    """DAgger rounds of the chosen student on all training rows (a candidate from an early
    halving rung saw only a share of them); each round scored on the held-out split and on the
    selection episodes. Returns the rounds as candidates, their students by round, and whether
    the budget cut the rounds short."""
    rounds: list[Candidate] = []
    models: dict[int, Any] = {}
    rounds_iter = dagger_stream(student, dagger_rows(data), data=data, config=config, env=env, teacher=teacher)
    for i, _beta, fitted, aggregate in rounds_iter:
        if i == 0:
            continue
        if time.monotonic() >= deadline:
            rounds_iter.close()
            return rounds, models, True
        figures = held_out_figures(fitted, data)
        loop = episodes.score(fitted, bar)
        rounds.append(replace(chosen, params={**chosen.params, "dagger_iteration": i}, n_train=len(aggregate), **figures, **loop.as_fields()))
        models[i] = fitted
    return rounds, models, False


def dagger_rows(data: SplitData) -> int:
    """How many training rows DAgger rounds start from: all of them."""
    return int(data.X.shape[0])


def dagger_stream(
    student: Any, n_train: int, *, data: SplitData, config: SearchConfig, env: Any, teacher: Any
) -> Generator[tuple[int, float, Any, DistillDataset], None, None]:
    """The DAgger iterates of ``student`` as the search runs them: iterate 0 is ``student`` as
    fitted; each round refits it on the first ``n_train`` training rows plus the states visited
    so far, on the config's seeds. ``reproduce`` replays the same stream to refit a shipped round."""
    from hybrid.data.dataset import DistillDataset
    from hybrid.envs.adapter import is_team_env
    from hybrid.loop.dagger import dagger_iterates

    kind: dict[str, Any] = {}
    iterates: Any = dagger_iterates
    if continuous.is_continuous(data):
        kind = {"action_kind": "continuous", "action_low": data.action_low, "action_high": data.action_high}
        iterates = continuous.dagger_iterates
    elif is_team_env(env):  # a PettingZoo team: the student plays the agents its TeamEnv controls
        from hybrid.loop.dagger import team_dagger_iterates

        iterates = team_dagger_iterates
    rows = DistillDataset(
        data.X[:n_train],
        data.P[:n_train],
        data.action_names or [f"action_{i}" for i in range(data.P.shape[1])],
        data.feature_names,
        None if data.w is None else data.w[:n_train],
        **kind,
    )
    return iterates(env, teacher, student, rows, config.dagger_iterations, config.closed_loop_episodes, beta=DAGGER_BETA, seed=config.seed, start=student)


def loop_teacher(teacher: Any, env: Any, data: SplitData) -> Any:
    """The teacher as the closed loop runs it: adapted to the environment's action bounds for
    continuous actions, to probabilities otherwise."""
    from hybrid.envs.adapter import is_team_env
    from hybrid.loop.runners import team_search_teacher
    from hybrid.teachers.adapters import as_teacher

    if is_team_env(env):  # a team: its teacher decides for every agent, students for their own
        return team_search_teacher(env, teacher, data)
    return continuous.as_env_teacher(teacher, env) if continuous.is_continuous(data) else as_teacher(teacher)


def pick_round(chosen: Candidate, rounds: list[Candidate], policy: Policy) -> tuple[Candidate, str]:
    """The round to ship (round 0 is the chosen candidate) and why."""
    if isinstance(policy, MinRetention):  # its bound is the bar itself: choose among all rounds as it chose
        holding, broken = rounds, []
        pick = policy([chosen, *rounds])[0]
    else:
        holding = [r for r in rounds if policy.bound_holds(r)]
        broken = [r.params["dagger_iteration"] for r in rounds if r not in holding]
        options = [chosen, *holding]  # the round most surely keeping the teacher's return; ties: cheaper, earlier
        pick = max(
            options, key=lambda c: (-np.inf if c.retention_low is None else c.retention_low, -(c.ops_per_decision or 0.0), -c.params.get("dagger_iteration", 0))
        )
    why = []
    if broken:
        why.append(f"DAgger round(s) {', '.join(map(str, broken))} broke the declared bound of {policy.spec} and were not shipped")
    if pick is chosen:
        why.append("the chosen candidate ships as fitted" + (" (no DAgger round did better by the same rule)" if rounds else ""))
    else:
        why.append(f"DAgger round {pick.params['dagger_iteration']} ships: it holds the bound and does better by the policy's rule")
    return pick, "; ".join(why)


def confirm(student: Any, *, env: Any, teacher: Any, config: SearchConfig, bar: float | None, deadline: float) -> tuple[LoopScore, dict[str, Any]]:
    """The shipped student's retention on fresh confirmation episodes (seeds never used to choose):
    ``closed_loop_episodes``, doubled up to the cap (``closed_loop_max_episodes``) unless the
    ``deadline`` comes first, whatever the interval says after a few: a pass on a handful of
    episodes says little where a rare episode goes badly (a crash), and this figure chooses
    nothing, so it may take every episode the settings allow. The report states how many it got."""
    with PairedEpisodes(
        env,
        teacher,
        seed=config.seed + CONFIRMATION_SEED_OFFSET,
        first=config.closed_loop_episodes,
        cap=config.closed_loop_max_episodes,
        confidence=config.confidence,
        deadline=deadline,
    ) as fresh:
        loop = fresh.score(student, bar, to_cap=True)
        summary = {**fresh.summary(), "cut_by_budget": fresh.cut, "episodes_run": fresh.episodes_run}
    return loop, summary
