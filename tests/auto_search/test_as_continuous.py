"""AutoDistill on continuous actions: the continuous families, tolerance fidelity, retention
against a uniform-in-the-Box policy, continuous DAgger, and a signed record of the choice."""

from __future__ import annotations

import numpy as np
import pytest

from auto_search import record
from auto_search.continuous import CONTINUOUS_FAMILIES
from auto_search.errors import SearchDataError
from auto_search.search import AutoDistill
from hybrid import DistillDataset


@pytest.fixture(scope="module")
def pendulum_result():
    from hybrid.rollouts import collect
    from hybrid.zoo import load_teacher

    teacher = load_teacher("Pendulum-v1")
    dataset = collect("Pendulum-v1", teacher, episodes=3, seed=0).dataset
    search = AutoDistill(budget_s=60, n_jobs=1, env="Pendulum-v1", teacher=teacher, policy="min-retention:0.9",
                         families=("regression_tree", "linear_rules"), closed_loop_episodes=1, dagger_iterations=1, verbose=0)
    return search.fit(dataset), teacher


@pytest.mark.slow
def test_the_continuous_families_are_searched_and_scored_in_the_loop(pendulum_result):
    r = pendulum_result[0]
    assert {c.family for c in r.candidates} == {"regression_tree", "linear_rules"}
    assert all(c.status == "ok" and 0.0 <= c.fidelity <= 1.0 and c.kl >= 0.0 for c in r.candidates)
    loop = r.closed_loop
    assert loop["teacher_return"] > loop["random_return"]
    assert all(c.retention is not None for c in r.pareto_candidates)
    assert r.confusion is None and loop["dagger"]["after_hash"] == r.best_hash
    actions = r.best_student.predict(np.zeros((4, 3), dtype=np.float32))
    assert actions.shape == (4, 1) and (np.abs(actions) <= 2.0).all()


@pytest.mark.slow
def test_the_choice_is_recorded_and_exported(pendulum_result, tmp_path):
    from provenance import Ledger, generate_key

    r, teacher = pendulum_result
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(r, ledger, key, teacher=teacher, out_dir=tmp_path / "model", exports=("python", "c"))
    assert [e.kind for e in entries] == ["dataset", "teacher", "search", "model", "export", "export"]
    assert (tmp_path / "model" / "student.h").read_text().count("void decide(const double *state, double *action)") == 1


def test_default_families_follow_the_action_kind_and_a_constant_teacher_is_refused():
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    A = np.tanh(X[:, :1])
    r = AutoDistill(budget_s=6, n_jobs=1, verbose=0, max_epochs=2).fit(
        DistillDataset(X, A, ["u"], action_kind="continuous", action_low=[-1], action_high=[1]))
    assert set(r.config.families) == set(CONTINUOUS_FAMILIES) and {c.family for c in r.candidates} <= set(CONTINUOUS_FAMILIES)
    with pytest.raises(SearchDataError, match="same action"):
        AutoDistill(budget_s=5, verbose=0).fit(
            DistillDataset(X, np.zeros((200, 1)), ["u"], action_kind="continuous", action_low=[-1], action_high=[1]))
