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
from auto_search.evaluate import score
from auto_search.result import SearchResult


class UniformPolicy:
    """The random baseline of retention: every action equally likely."""

    def __init__(self, action_names: list[str]) -> None:
        self.action_names = list(action_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        n = np.asarray(X).reshape(-1, np.asarray(X).shape[-1]).shape[0]
        return np.full((n, len(self.action_names)), 1.0 / len(self.action_names))


def retention(student_return: float, teacher_return: float, random_return: float) -> float:
    """(student − random) / (teacher − random); 1.0 when teacher and random tie."""
    gap = teacher_return - random_return
    return 1.0 if abs(gap) < 1e-12 else (student_return - random_return) / gap


def add_closed_loop(result: SearchResult, students: dict[int, Any], env: Any, teacher: Any, config: SearchConfig) -> None:
    """Roll out the Pareto candidates, fill their closed-loop fields, then DAgger the chosen one."""
    from hybrid.dagger import dagger
    from hybrid.rollouts import collect, evaluate
    from hybrid.teachers import as_teacher

    names = result.dataset["action_names"]
    teacher = as_teacher(teacher, action_names=names)
    episodes, seed = config.closed_loop_episodes, config.seed
    teacher_return = evaluate(env, teacher, episodes, seed)[0]
    random_return = evaluate(env, UniformPolicy(names), episodes, seed)[0]

    def loop_scores(student: Any) -> dict[str, float]:
        visited = collect(env, as_teacher(student, action_names=names), episodes=episodes, seed=seed)
        X = visited.X
        fidelity = score(teacher.predict_proba(X), student.predict_proba(X), None)[0]
        mean = evaluate(env, student, episodes, seed)[0]
        return {"visited_fidelity": fidelity, "return_mean": float(mean), "retention": retention(mean, teacher_return, random_return)}

    by_id = {c.id: i for i, c in enumerate(result.candidates)}
    for cid in result.pareto:
        i = by_id[cid]
        result.candidates[i] = replace(result.candidates[i], **loop_scores(students[cid]))
    result.best = result.candidates[by_id[result.best.id]]
    summary: dict[str, Any] = {"episodes": episodes, "teacher_return": float(teacher_return), "random_return": float(random_return)}
    if config.dagger_iterations > 0:
        before = result.best_student.content_hash
        improved = dagger(env, teacher, result.best_student, iterations=config.dagger_iterations,
                          episodes_per_iteration=episodes, beta=0.5, seed=seed).student
        result.best_student = improved
        summary["dagger"] = {"iterations": config.dagger_iterations, "before_hash": before,
                             "after_hash": improved.content_hash, **loop_scores(improved)}
    result.closed_loop = summary
