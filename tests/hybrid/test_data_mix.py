"""Data sources made explicit: tagged rows, seeded mixes, refusals of a bad mix before any work."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import (
    DataError,
    DataPool,
    as_teacher,
    logged_decisions,
    mixture_teacher,
    noisy_rollouts,
    parse_shares,
    row_tags,
    share_grid,
    student_states,
    teacher_rollouts,
)
from hybrid.data.dataset import DistillDataset
from hybrid.students.tree import TreeStudent


@pytest.fixture
def teacher(toy_teacher):
    return as_teacher(toy_teacher, toy_teacher.actions)


@pytest.fixture
def pool(line_world, teacher):
    rollouts = teacher_rollouts(line_world, teacher, 3, 0)
    student = TreeStudent(max_depth=1).fit(rollouts.X, rollouts.P)
    return DataPool(
        {
            "rollouts": rollouts,
            "dagger": student_states(line_world, teacher, student, 3, 1),
            "noisy": noisy_rollouts(line_world, teacher, 3, 2, epsilon=0.5),
        }
    )


def test_every_source_tags_its_rows_and_labels_stay_clean(pool, teacher):
    for name, ds in pool.sources.items():
        assert set(row_tags(ds, "source")) == {name}
        assert set(row_tags(ds, "teacher")) == {teacher.identity}
        np.testing.assert_allclose(ds.P, teacher.predict_proba(ds.X), atol=1e-6)  # DART: perturbed acting, clean labels


def test_noisy_rollouts_visit_other_states_than_the_teacher(line_world, teacher):
    clean = teacher_rollouts(line_world, teacher, 3, 0)
    noisy = noisy_rollouts(line_world, teacher, 3, 0, epsilon=1.0)
    assert not np.array_equal(clean.X, noisy.X)


def test_a_mix_draws_the_shares_and_tags_follow_rows_through_split_and_concat(pool):
    mixed = pool.mix({"rollouts": 0.5, "dagger": 0.25, "noisy": 0.25}, n_states=40, seed=0)
    names, counts = np.unique(row_tags(mixed, "source"), return_counts=True)
    assert dict(zip(names, counts)) == {"dagger": 10, "noisy": 10, "rollouts": 20}
    assert mixed.meta["shares"] == {"dagger": 0.25, "noisy": 0.25, "rollouts": 0.5}
    train, val = mixed.split(0.25, seed=0)
    assert len(row_tags(train, "source")) == len(train) and len(row_tags(val, "source")) == len(val)
    assert sorted(np.concatenate([row_tags(train, "source"), row_tags(val, "source")])) == sorted(row_tags(mixed, "source"))
    again = pool.mix({"rollouts": 0.5, "dagger": 0.25, "noisy": 0.25}, n_states=40, seed=0)
    assert again.content_hash == mixed.content_hash  # same pool, mix and seed: same data


def test_bad_mixes_fail_naming_the_fix(pool):
    with pytest.raises(DataError, match="sum to 1.2, not 1; make them sum to 1"):
        pool.mix({"rollouts": 0.6, "dagger": 0.6})
    with pytest.raises(DataError, match="not available; use some of"):
        pool.mix({"logged": 1.0})
    with pytest.raises(DataError, match="at most"):
        pool.mix({"rollouts": 1.0}, n_states=10_000)
    with pytest.raises(DataError, match="SOURCE=SHARE"):
        parse_shares("rollouts:1")
    assert parse_shares("rollouts=0.75, noisy=0.25") == {"noisy": 0.25, "rollouts": 0.75}


def test_share_grid_lists_pure_sources_first():
    grid = share_grid(["rollouts", "dagger"], 0.5)
    assert grid == [{"rollouts": 1.0}, {"dagger": 1.0}, {"rollouts": 0.5, "dagger": 0.5}]
    with pytest.raises(DataError, match="divide 1"):
        share_grid(["rollouts"], 0.3)


def test_a_pool_refuses_sources_of_different_action_sets(pool):
    other = DistillDataset(np.zeros((2, 2)), [[1.0, 0.0], [0.0, 1.0]], ["l", "r"])
    with pytest.raises(DataError, match="one teacher action set"):
        DataPool({"rollouts": pool.sources["rollouts"], "logged": other})
    with pytest.raises(DataError, match="unknown source"):
        DataPool({"replay": other})


def test_rows_from_several_teachers_keep_which_teacher_labelled_them(line_world, teacher):
    class Stay:
        action_names = ("move_left", "move_right", "stay")
        identity = "stay-teacher"

        def predict_proba(self, X):
            return np.tile([0.0, 0.0, 1.0], (len(X), 1))

    a = teacher_rollouts(line_world, teacher, 1, 0)
    b = teacher_rollouts(line_world, Stay(), 1, 1)
    both = DistillDataset.concat([a, b])
    assert list(row_tags(both, "teacher")) == [teacher.identity] * len(a) + ["stay-teacher"] * len(b)
    gated = teacher_rollouts(line_world, mixture_teacher([teacher, Stay()], gate="confident"), 2, 0)
    assert set(row_tags(gated, "teacher")) <= {teacher.identity, "stay-teacher"}
    logged = logged_decisions(DistillDataset(a.X, a.P, a.action_names), teacher_name="from-logs")
    assert set(row_tags(logged, "source")) == {"logged"} and set(row_tags(logged, "teacher")) == {"from-logs"}


def test_noisy_rollouts_need_a_share_of_perturbed_actions(line_world, teacher):
    with pytest.raises(DataError, match=r"epsilon must lie in \(0, 1\]"):
        noisy_rollouts(line_world, teacher, 1, 0, epsilon=0.0)
