"""The split a search scores on, and fitting and scoring one planned candidate.

A dataset is split once per search (:func:`split_dataset`): training rows in a seeded order and
held-out rows, as numbers — on record states through a featurizer fitted on the training part
only, which the shipped student then carries as its first stage (:func:`shipped_form`). The
dataset's action space decides how a student is fitted and scored (fidelity and divergence), so
one path serves every kind of agent.

A worker fits the student on its share of the training states, scores fidelity and divergence on
the held-out states, reads the analytic cost and measures single-decision latency (reported
only). It returns the candidate and the student's canonical form, so the parent can rebuild the
chosen student exactly (:func:`rebuild`) and its hash is the model's identity.
:mod:`auto_search.engine` runs many of them in parallel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from auto_search.errors import SearchDataError
from auto_search.space import Spec, is_expensive, student_class
from hybrid.spaces import ActionSpace, DiscreteActions, action_space_of
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
    kl: float | None = None  # the action space's divergence: KL for discrete actions, normalised MSE for a Box
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
    retention_screen: float | None = None  # the normal approximation's lower bound: screens and ranks, never a claim
    loop_episodes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def describe(c: Any) -> str:
    """A candidate in a few words: family, its defining hyperparameters, cost and fidelity."""
    shown = {k: v for k, v in c.params.items() if k not in ("random_state", "max_train_states", "epochs")}
    params = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return f"{c.family} ({params}), {c.ops_per_decision:g} ops per decision, fidelity {100 * c.fidelity:.1f}%"


@dataclass(frozen=True)
class SplitData:
    """Training states in a seeded order (so ``[:n]`` is a nested random subset) and held-out states.

    ``action_space`` says what ``P`` holds (probabilities or actions within a Box; without one,
    discrete actions named by ``action_names``); ``featurizer`` is the fitted first stage that
    turned record states into these rows (``None`` for numeric states).
    """

    X: np.ndarray
    P: np.ndarray
    w: np.ndarray | None
    X_val: np.ndarray
    P_val: np.ndarray
    w_val: np.ndarray | None
    action_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    action_space: ActionSpace | None = None
    featurizer: Any = None

    def __post_init__(self) -> None:
        if self.action_space is None:
            names = self.action_names or [f"action_{i}" for i in range(self.P.shape[1])]
            object.__setattr__(self, "action_space", DiscreteActions(names))

    @property
    def space(self) -> ActionSpace:
        """The action space (always set after construction)."""
        assert self.action_space is not None
        return self.action_space


def split_dataset(ds: Any, val_fraction: float, seed: int) -> tuple[SplitData, Any]:
    """The dataset's own seeded held-out split, as the search and ``reproduce`` score on it:
    training rows in a seeded order, both parts as numbers (``student_features`` of the dataset:
    its vectors, or a record featurizer fitted on the training records only).
    Returns the split and the training rows as a dataset."""
    train, val = ds.split(val_fraction, seed)
    order = np.random.default_rng(seed).permutation(len(train))
    X, X_val, feature_names, featurizer = train.student_features(val, order)
    w = train.weights
    return SplitData(
        X=X,
        P=np.ascontiguousarray(train.P[order]),
        w=None if w is None else np.ascontiguousarray(w[order]),
        X_val=X_val,
        P_val=val.P,
        w_val=val.weights,
        action_names=tuple(ds.action_names),
        feature_names=feature_names,
        action_space=action_space_of(ds),
        featurizer=featurizer,
    ), train


def shipped_form(student: Any, data: SplitData) -> Any:
    """The student as it ships: joined to the split's featurizer when the states were records
    (one artifact, so the model hash and the Python export cover the vocabulary too)."""
    from hybrid.students.featurized import FeaturizedStudent

    if data.featurizer is None or isinstance(student, FeaturizedStudent):
        return student
    return FeaturizedStudent.from_parts(data.featurizer, student, action_names=data.action_names)


def numeric_part(student: Any) -> Any:
    """The student that reads the numeric rows (the inner one of a featurized student)."""
    return getattr(student, "student_", student)


def score_student(student: Any, data: SplitData) -> tuple[float, float]:
    """(fidelity, divergence) of a fitted student on the held-out split, as its action space
    counts them: top-1 agreement and KL, or the share within tolerance and the normalised MSE."""
    space = data.space
    out = space.student_output(student, data.X_val)
    return float(space.fidelity(data.P_val, out, data.w_val)), float(space.divergence(data.P_val, out, data.w_val))


def fit_student(family: str, params: dict[str, Any], data: SplitData, n_train: int) -> Any:
    """A student of ``family`` fitted on the first ``n_train`` training rows of the split."""
    w = None if data.w is None else data.w[:n_train]
    student = student_class(family)(**params)
    bounds: dict[str, Any] = data.space.bound_args()  # a Box's bounds; none for discrete (families registered by users keep a plain fit)
    return student.fit(data.X[:n_train], data.P[:n_train], w, feature_names=data.feature_names, action_names=data.action_names, **bounds)


def evaluate_spec(spec: Spec, data: SplitData) -> tuple[Candidate, dict[str, Any] | None]:
    """Fit one candidate and score it; a configuration that fails is recorded, not fatal."""
    if is_expensive(spec.family):
        import torch

        torch.set_num_threads(1)  # one torch thread per worker: workers already fill the cores
    base: dict[str, Any] = dict(id=spec.id, rung=spec.rung, level=spec.level, family=spec.family, params=spec.params, n_train=spec.n_train)
    start = time.perf_counter()
    try:
        student = fit_student(spec.family, spec.params, data, spec.n_train)
        fit_time = time.perf_counter() - start
        fidelity, kl = score_student(student, data)
        cost = shipped_form(student, data).cost()  # on records: with featurizing, as the shipped student runs
        artifact = student.to_dict()
    except Exception as e:
        elapsed = time.perf_counter() - start
        return Candidate(**base, status="failed", fit_time_s=elapsed, task_s=elapsed, error=f"{type(e).__name__}: {e}"), None
    latency = single_decision_latency_us(student, data.X_val[0], data.space)
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


def rebuild(c: Candidate, artifact: dict[str, Any]) -> Any:
    """The fitted student of candidate ``c`` from its canonical form, checked against its hash."""
    student = student_class(c.family).from_dict(artifact)
    if student.content_hash != c.content_hash:
        raise SearchDataError(f"candidate {c.id} ({c.family}) did not round-trip through its canonical form; its to_dict/from_dict disagree.")
    return student


def single_decision_latency_us(student: Any, state: np.ndarray, space: ActionSpace) -> float:
    """Median wall time of one decision on one state (what ``space`` reads of the student:
    probabilities or actions), in µs (reported, never selected on)."""
    x = state[None, :]
    space.student_output(student, x)
    times = []
    for _ in range(_LATENCY_CALLS):
        t = time.perf_counter()
        space.student_output(student, x)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)
