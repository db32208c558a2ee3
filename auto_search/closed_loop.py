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


def add_closed_loop(result: SearchResult, students: dict[int, Any], env: Any, teacher: Any, config: SearchConfig, dataset: Any) -> None:
    """Roll out the Pareto candidates, fill their closed-loop fields, then DAgger the chosen one."""
    from hybrid.dagger import dagger
    from hybrid.rollouts import closed_loop, evaluate
    from hybrid.teachers import as_teacher

    teacher = as_teacher(teacher)
    episodes, seed = config.closed_loop_episodes, config.seed
    teacher_return = evaluate(env, teacher, episodes, seed)[0]
    random_return = evaluate(env, UniformPolicy(len(result.dataset["action_names"]), seed), episodes, seed)[0]

    def loop_scores(student: Any) -> dict[str, float]:
        run = closed_loop(env, student, episodes, seed, teacher=teacher)
        return {"visited_fidelity": run.agreement, "return_mean": run.mean_return,
                "retention": retention(run.mean_return, teacher_return, random_return)}

    by_id = {c.id: i for i, c in enumerate(result.candidates)}
    for cid in result.pareto:
        i = by_id[cid]
        result.candidates[i] = replace(result.candidates[i], **loop_scores(students[cid]))
    result.best = result.candidates[by_id[result.best.id]]
    summary: dict[str, Any] = {"episodes": episodes, "teacher_return": float(teacher_return), "random_return": float(random_return)}
    if config.dagger_iterations > 0:
        before = result.best_student.content_hash
        run = dagger(env, teacher, result.best_student, iterations=config.dagger_iterations,
                     episodes_per_iteration=episodes, beta=0.5, seed=seed, dataset=dataset)
        result.best_student = run.student
        summary["dagger"] = {"iterations": config.dagger_iterations, "best_iteration": run.best_iteration,
                             "before_hash": before, "after_hash": run.student.content_hash, **loop_scores(run.student)}
    result.closed_loop = summary
