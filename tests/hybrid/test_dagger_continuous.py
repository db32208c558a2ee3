"""Continuous DAgger: the iterates generator AutoDistill's shipping uses, and the measured run."""

from __future__ import annotations

import numpy as np

from hybrid.loop._dagger_box import dagger_continuous, dagger_continuous_iterates
from hybrid.loop.rollouts import collect
from hybrid.students import RegressionTreeStudent
from hybrid.students._base import fit_dataset as fit_continuous
from hybrid.teachers.zoo import load_teacher


def test_iterates_start_from_the_fitted_student_and_aggregate_teacher_labels():
    teacher = load_teacher("Pendulum-v1")
    rows = collect("Pendulum-v1", teacher, episodes=1, seed=0).dataset
    start = fit_continuous(RegressionTreeStudent(max_depth=3), rows)
    before = start.content_hash
    seen = list(dagger_continuous_iterates("Pendulum-v1", teacher, RegressionTreeStudent(max_depth=3), rows, 2, 1, beta=0.5, seed=0, start=start))
    assert [i for i, *_ in seen] == [0, 1, 2] and seen[0][2] is start and start.content_hash == before
    sizes = [len(agg) for *_, agg in seen]
    assert sizes[0] == len(rows) and sizes[0] < sizes[1] < sizes[2]
    last = seen[-1][3]
    assert last.action_kind == "continuous" and np.array_equal(last.X[: len(rows)], rows.X)
    np.testing.assert_allclose(last.P[len(rows) :], teacher.predict(last.X[len(rows) :]), rtol=1e-6, atol=1e-6)
    assert seen[-1][2] is not start and seen[-1][2].max_depth == 3


def test_dagger_continuous_keeps_an_iterate_no_worse_than_cloning():
    teacher = load_teacher("Pendulum-v1")
    rows = collect("Pendulum-v1", teacher, episodes=1, seed=0).dataset
    run = dagger_continuous("Pendulum-v1", teacher, RegressionTreeStudent(max_depth=3), iterations=1, episodes_per_iteration=1, seed=0, dataset=rows)
    assert [h.iteration for h in run.history] == [0, 1]
    assert run.history[run.best_iteration].mean_return >= run.history[0].mean_return
