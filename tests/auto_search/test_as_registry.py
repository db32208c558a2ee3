"""A student family added in one module — here, this test file alone — is searched, reported and
recorded with nothing else changed: the search space, cost class and colour come from the registry."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from auto_search.config import default_families
from auto_search.errors import SearchConfigError
from auto_search.search import AutoDistill
from hybrid.students import Cost, Student, check_states, check_targets, register, registered_families, resolve_names


@register
class NearestCentroidStudent(Student):
    """Toy family: the action whose (teacher-weighted) state centroid is nearest."""

    family: ClassVar[str] = "toy-centroid"
    colour: ClassVar[str] = "#123456"

    def __init__(self, shrink: float = 0.0, random_state: int = 0) -> None:
        self.shrink = shrink
        self.random_state = random_state

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        return [{"shrink": s} for s in (0.0, 0.5)]

    def fit(self, X: Any, P: Any, sample_weight: Any = None, *, feature_names: Any = None, action_names: Any = None) -> NearestCentroidStudent:
        X = check_states(X)
        P = check_targets(P, X.shape[0])
        self.centroids_ = (P.T @ X) / np.maximum(P.sum(axis=0)[:, None], 1e-9) * (1 - self.shrink)
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, P.shape[1], "action_", "action_names", "actions")
        self.n_features_in_, self.n_actions_ = X.shape[1], P.shape[1]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_)
        d = ((X[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        return np.eye(self.n_actions_)[d.argmin(axis=1)]

    def cost(self) -> Cost:
        self._check_fitted()
        k, d = self.centroids_.shape
        return Cost(parameters=k * d, ops_per_decision=float(k * d), bytes=8 * k * d)

    def _state(self) -> dict[str, Any]:
        return {"centroids": self.centroids_.tolist(), "feature_names": self.feature_names_, "action_names": self.action_names_}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.centroids_ = np.asarray(state["centroids"], dtype=np.float64)
        self.feature_names_, self.action_names_ = state["feature_names"], state["action_names"]


def test_a_family_declared_in_one_module_is_searched_reported_and_chosen_from(small_dataset, fast, tmp_path):
    assert "toy-centroid" in registered_families() and "toy-centroid" not in default_families()
    r = AutoDistill(families=("toy-centroid", "tree"), budget_s=60, n_jobs=1, backend="threading", **fast).fit(small_dataset)
    toys = [c for c in r.candidates if c.family == "toy-centroid"]
    assert len(toys) == 2 and all(c.status == "ok" and c.n_train == toys[0].n_train for c in toys)  # cheap: all states at once
    html = (r.write_report(tmp_path) / "report.html").read_text()
    assert "toy-centroid" in html
    pool = [c for c in r.candidates if c.status == "ok"]
    assert r.chosen in pool


def test_a_family_that_is_not_registered_or_has_no_space_is_refused_before_any_work(small_dataset, fast):
    with pytest.raises(SearchConfigError, match="unknown student family 'nope'.*registered"):
        AutoDistill(families=("nope",), **fast)

    @register
    class Unsearched(NearestCentroidStudent):
        family: ClassVar[str] = "toy-unsearched"

        @classmethod
        def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
            return []

    with pytest.raises(SearchConfigError, match="declares no search space"):
        AutoDistill(families=("toy-unsearched",), **fast)
