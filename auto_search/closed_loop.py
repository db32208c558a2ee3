"""Closed-loop scores for the Pareto candidates and DAgger rounds for the chosen student.

Held-out fidelity is measured on the teacher's states; in the loop a student meets its own.
Return and agreement come apart (CartPole trees were measured at full return while agreeing on
only 60% of the states they visit), so each Pareto candidate gets both: ``visited_fidelity``
(agreement with the teacher on states the student visits) and ``retention`` (its return as a
share of the teacher's, normalised between a uniform-random policy and the teacher). The
chosen student then gets DAgger rounds, which return the best iterate by measured return.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from auto_search.config import SearchConfig
from auto_search.result import SearchResult


class UniformPolicy:
    """The random baseline of retention: every action equally likely (ties go to the first
    action greedily, so a seeded generator picks instead)."""

    def __init__(self, n_actions: int, seed: int) -> None:
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.n_actions, size=np.asarray(X).shape[0])


def retention(student_return: float, teacher_return: float, random_return: float) -> float:
    """(student − random) / (teacher − random); 1.0 when teacher and random tie."""
    gap = teacher_return - random_return
    return 1.0 if abs(gap) < 1e-12 else (student_return - random_return) / gap


def score_front(candidates: list[Any], front_ids: list[int], students: dict[int, Any], env: Any, teacher: Any,
                config: SearchConfig, n_actions: int) -> tuple[list[Any], dict[str, Any]]:
    """Roll out the Pareto candidates on seeded episodes; returns the candidates with their
    closed-loop fields filled, and the baselines (teacher and uniform-random returns)."""
    from hybrid.rollouts import evaluate

    episodes, seed = config.closed_loop_episodes, config.seed
    teacher_return = evaluate(env, teacher, episodes, seed)[0]
    if getattr(teacher, "action_kind", "discrete") == "continuous":
        from auto_search.continuous import UniformBoxPolicy

        random_policy: Any = UniformBoxPolicy(teacher.action_low, teacher.action_high, seed)
    else:
        random_policy = UniformPolicy(n_actions, seed)
    random_return = evaluate(env, random_policy, episodes, seed)[0]
    summary: dict[str, Any] = {"episodes": episodes, "teacher_return": float(teacher_return), "random_return": float(random_return)}
    scored = list(candidates)
    where = {c.id: i for i, c in enumerate(scored)}
    for cid in front_ids:
        scored[where[cid]] = replace(scored[where[cid]], **loop_scores(students[cid], env, teacher, summary, seed))
    return scored, summary


def loop_scores(student: Any, env: Any, teacher: Any, summary: dict[str, Any], seed: int) -> dict[str, float]:
    """Return, retention and agreement with the teacher on the student's own states."""
    from hybrid.rollouts import closed_loop

    run = closed_loop(env, student, summary["episodes"], seed, teacher=teacher)
    return {"visited_fidelity": run.agreement, "return_mean": run.mean_return,
            "retention": retention(run.mean_return, summary["teacher_return"], summary["random_return"])}


def dagger_chosen(result: SearchResult, env: Any, teacher: Any, config: SearchConfig, dataset: Any) -> None:
    """DAgger rounds for the chosen student; ``dagger`` keeps the best iterate by measured
    return, so the student shipped is never worse in the loop than the one chosen."""
    from hybrid.dagger import dagger

    summary = result.closed_loop
    before = result.best_student.content_hash
    if getattr(teacher, "action_kind", "discrete") == "continuous":
        from auto_search.continuous import dagger as continuous_dagger

        run = continuous_dagger(env, teacher, result.best_student, config, dataset)
    else:
        run = dagger(env, teacher, result.best_student, iterations=config.dagger_iterations,
                     episodes_per_iteration=config.closed_loop_episodes, beta=0.5, seed=config.seed, dataset=dataset)
    result.best_student = run.student
    summary["dagger"] = {"iterations": config.dagger_iterations, "best_iteration": run.best_iteration,
                         "before_hash": before, "after_hash": run.student.content_hash,
                         **loop_scores(run.student, env, teacher, summary, config.seed)}
