"""The engine starts no fit its clock says cannot finish before the deadline, and ends early then."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import numpy as np
import pytest

from auto_search.engine import BudgetExpired, Engine, FitClock
from auto_search.evaluate import Candidate, SplitData
from auto_search.space import Spec
from hybrid.students import Cost, Student, check_states, check_targets, register, resolve_names


@register
class SleepyStudent(Student):
    """Toy family whose fit takes ``seconds`` of wall time and counts how often it started."""

    family: ClassVar[str] = "toy-sleepy"
    started: ClassVar[list[float]] = []
    _lock = threading.Lock()

    def __init__(self, seconds: float = 0.1, random_state: int = 0) -> None:
        self.seconds = seconds
        self.random_state = random_state

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        return [{"seconds": 0.1}]

    def fit(self, X: Any, P: Any, sample_weight: Any = None, *, feature_names: Any = None, action_names: Any = None) -> SleepyStudent:
        with self._lock:
            self.started.append(time.monotonic())
        time.sleep(self.seconds)
        X = check_states(X)
        P = check_targets(P, X.shape[0])
        self.mean_ = P.mean(axis=0)
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, P.shape[1], "action_", "action_names", "actions")
        self.n_features_in_, self.n_actions_ = X.shape[1], P.shape[1]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return np.tile(self.mean_, (check_states(X, n_features=self.n_features_in_).shape[0], 1))

    def cost(self) -> Cost:
        return Cost(parameters=self.n_actions_, ops_per_decision=1.0, bytes=8 * self.n_actions_)

    def _state(self) -> dict[str, Any]:
        return {"mean": self.mean_.tolist(), "feature_names": self.feature_names_, "action_names": self.action_names_}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.mean_ = np.asarray(state["mean"])
        self.feature_names_, self.action_names_ = state["feature_names"], state["action_names"]


def _data() -> SplitData:
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=60).astype(np.float32)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    return SplitData(X[:40], P[:40], None, X[40:], P[40:], None)


def _spec(i: int, seconds: float, n_train: int = 40) -> Spec:
    return Spec(i, i, 0, "toy-sleepy", {"seconds": seconds}, n_train)


def _done(family: str, params: dict[str, Any], n_train: int, task_s: float) -> Candidate:
    return Candidate(id=0, rung=0, level=0, family=family, params=params, n_train=n_train, status="ok", task_s=task_s)


def test_the_clock_takes_a_configurations_own_time_or_its_familys_median_on_as_many_states():
    clock = FitClock()
    assert clock.expected_s(Spec(0, 0, 1, "mlp", {"h": 1}, 900)) is None  # nothing known at that size yet
    for h, t in ((1, 1.0), (2, 2.0), (3, 9.0)):
        clock.add(_done("mlp", {"h": h}, 100, t))
    assert clock.expected_s(Spec(0, 0, 1, "mlp", {"h": 1}, 900)) is None  # fewer states say nothing about 900
    clock.add(_done("mlp", {"h": 2}, 900, 20.0))
    clock.add(_done("mlp", {"h": 3}, 900, 40.0))
    clock.add(_done("mlp", {"h": 4}, 900, 25.0))
    assert clock.expected_s(Spec(0, 0, 1, "mlp", {"h": 3}, 900)) == 40.0  # its own time when it has one
    assert clock.expected_s(Spec(0, 0, 1, "mlp", {"h": 1}, 900)) == 25.0  # else its family's median there
    assert clock.expected_s(Spec(0, 0, 1, "tree", {"h": 1}, 900)) is None  # another family says nothing
    clock.add(Candidate(id=9, rung=0, level=0, family="mlp", params={"h": 5}, n_train=900, status="failed", task_s=500.0))
    assert clock.expected_s(Spec(0, 0, 1, "mlp", {"h": 1}, 900)) == 25.0  # failed fits do not count


def test_no_fit_starts_that_cannot_finish_and_the_search_ends_before_its_deadline():
    data, results = _data(), []
    with Engine("threading", 2) as engine:
        engine.run([_spec(0, 0.6)], data, deadline=time.monotonic() + 60, on_result=lambda c, a: results.append(c))
        SleepyStudent.started.clear()
        start = time.monotonic()
        deadline = start + 1.0
        with pytest.raises(BudgetExpired):
            engine.run([_spec(i, 0.6) for i in range(1, 5)], data, deadline=deadline, on_result=lambda c, a: results.append(c))
        ended = time.monotonic()
    assert len(SleepyStudent.started) == 2  # two fit by the deadline; the next two could not, so they never started
    assert sorted(c.id for c in results[1:]) == [1, 2]
    assert ended < deadline  # it did not wait for a deadline no fit could use


def test_a_fit_with_no_time_known_still_starts():
    data, results = _data(), []
    SleepyStudent.started.clear()
    with Engine("threading", 2) as engine:
        engine.run([_spec(0, 0.05, n_train=30)], data, deadline=time.monotonic() + 60, on_result=lambda c, a: results.append(c))
    assert len(SleepyStudent.started) == 1 and results[0].status == "ok"


def test_while_no_rung_is_whole_fits_start_whatever_the_clock_says():
    data = _data()
    SleepyStudent.started.clear()
    with Engine("threading", 2) as engine:
        engine.clock.add(_done("toy-sleepy", {"seconds": 0.5}, 40, 5.0))  # the clock thinks it cannot finish
        rung = [Spec(i, 0, 0, "toy-sleepy", {"seconds": 0.5}, 40) for i in range(2)]
        with pytest.raises(BudgetExpired):
            engine.run(rung, data, deadline=time.monotonic() + 0.3, on_result=lambda c, a: None)
    assert len(SleepyStudent.started) == 2  # nothing could be chosen otherwise, so both were tried


def test_a_run_with_nothing_finished_goes_on_until_its_first_result():
    data, results = _data(), []
    with Engine("threading", 2) as engine:
        start = time.monotonic()
        with pytest.raises(BudgetExpired):  # the ordinary deadline passed before any fit could finish...
            engine.run([_spec(i, 0.4) for i in range(4)], data, deadline=start + 0.1, on_result=lambda c, a: results.append(c), until_first=start + 30)
        assert results and time.monotonic() - start < 5  # ...so it ran on to the first results, then stopped
        with pytest.raises(BudgetExpired):  # once something finished, the ordinary deadline holds
            engine.run([_spec(9, 0.4)], data, deadline=time.monotonic() - 1, on_result=lambda c, a: results.append(c), until_first=time.monotonic() + 30)
