"""Fit and score one planned candidate, and run many of them in parallel through joblib.

A worker fits the student on its share of the training states, scores fidelity and KL on the
held-out states, reads the analytic cost and measures single-decision latency (reported only).
It returns the candidate and the student's canonical form, so the parent can rebuild the
chosen student exactly and its hash is the model's identity. :mod:`auto_search.engine` runs
many of them in parallel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from auto_search import continuous
from auto_search.space import Spec, is_expensive, student_class
from provenance.hashing import hash_json

_LATENCY_CALLS = 25


@dataclass(frozen=True)
class Candidate:
    """One fitted (or failed, or cut) student of the search with its scores and costs."""

    id: int
    rung: int
    level: int
    family: str
    params: dict[str, Any]
    n_train: int
    status: str  # "ok" | "failed"
    fidelity: float | None = None
    kl: float | None = None
    parameters: int | None = None
    ops_per_decision: float | None = None
    bytes: int | None = None
    latency_us: float | None = None
    fit_time_s: float = 0.0
    task_s: float = 0.0  # worker time: fit, scoring and latency measurement
    finished_s: float | None = None  # when the result reached the search, from its start (reported only)
    content_hash: str | None = None
    error: str | None = None
    visited_fidelity: float | None = None  # closed loop: agreement on the states the student visits
    return_mean: float | None = None
    retention: float | None = None
    retention_low: float | None = None  # confidence interval of retention (see auto_search.closed_loop)
    retention_high: float | None = None
    loop_episodes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class SplitData:
    """Training states in a seeded order (so ``[:n]`` is a nested random subset) and held-out states."""

    X: np.ndarray
    P: np.ndarray
    w: np.ndarray | None
    X_val: np.ndarray
    P_val: np.ndarray
    w_val: np.ndarray | None
    action_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    action_kind: str = "discrete"  # "continuous": P holds actions within [action_low, action_high]
    action_low: np.ndarray | None = None
    action_high: np.ndarray | None = None


def score(P_teacher: np.ndarray, P_student: np.ndarray, weights: np.ndarray | None) -> tuple[float, float]:
    """(fidelity, KL(teacher ‖ student)) on the same states, weighted if weights are given."""
    from hybrid.metrics import fidelity, kl

    return float(fidelity(P_teacher, P_student, weights)), float(kl(P_teacher, P_student, weights))


def score_student(student: Any, data: SplitData) -> tuple[float, float]:
    """(fidelity, KL) of a fitted student on the held-out split; for continuous actions, the
    share within tolerance and the normalised MSE (see :mod:`auto_search.continuous`)."""
    if continuous.is_continuous(data):
        return continuous.score(data, student)
    return score(data.P_val, student.predict_proba(data.X_val), data.w_val)


def evaluate_spec(spec: Spec, data: SplitData) -> tuple[Candidate, dict[str, Any] | None]:
    """Fit one candidate and score it; a configuration that fails is recorded, not fatal."""
    if is_expensive(spec.family):
        import torch

        torch.set_num_threads(1)  # one torch thread per worker: workers already fill the cores
    base: dict[str, Any] = dict(id=spec.id, rung=spec.rung, level=spec.level, family=spec.family, params=spec.params, n_train=spec.n_train)
    start = time.perf_counter()
    try:
        w = None if data.w is None else data.w[: spec.n_train]
        if continuous.is_continuous(data):
            student = continuous.fit(student_class(spec.family)(**spec.params), data.X[: spec.n_train], data.P[: spec.n_train], w, data)
        else:
            student = student_class(spec.family)(**spec.params).fit(
                data.X[: spec.n_train], data.P[: spec.n_train], w, feature_names=data.feature_names, action_names=data.action_names
            )
        fit_time = time.perf_counter() - start
        fidelity, kl = score_student(student, data)
        from auto_search.featurized import ship

        cost = ship(student, data).cost()  # on records: with featurizing, as the shipped student runs
        artifact = student.to_dict()
    except Exception as e:
        elapsed = time.perf_counter() - start
        return Candidate(**base, status="failed", fit_time_s=elapsed, task_s=elapsed, error=f"{type(e).__name__}: {e}"), None
    latency = single_decision_latency_us(student, data.X_val[0])
    return Candidate(
        **base,
        status="ok",
        fidelity=fidelity,
        kl=kl,
        parameters=int(cost.parameters),
        ops_per_decision=float(cost.ops_per_decision),
        bytes=int(cost.bytes),
        latency_us=latency,
        fit_time_s=fit_time,
        task_s=time.perf_counter() - start,
        content_hash=hash_json(artifact),
    ), artifact


def single_decision_latency_us(student: Any, state: np.ndarray) -> float:
    """Median wall time of one ``predict_proba`` (``predict`` for continuous actions) on one state, in µs (reported, never selected on)."""
    x = state[None, :]
    decide = student.predict if getattr(student, "action_kind", "discrete") == "continuous" else student.predict_proba
    decide(x)
    times = []
    for _ in range(_LATENCY_CALLS):
        t = time.perf_counter()
        decide(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)
