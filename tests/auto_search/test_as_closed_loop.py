"""With an environment and a teacher: retention and visited-state fidelity for the Pareto
candidates, DAgger for the chosen student, the teacher marked in the report."""

from __future__ import annotations

import pytest

from auto_search.closed_loop import UniformPolicy, retention
from auto_search.search import AutoDistill


@pytest.fixture(scope="module")
def cartpole_result():
    from hybrid.rollouts import collect
    from hybrid.zoo import load_teacher

    teacher = load_teacher("CartPole-v1")
    dataset, _ = collect("CartPole-v1", teacher, episodes=2, seed=0)
    search = AutoDistill(families=("tree",), budget_s=60, n_jobs=1, env="CartPole-v1", teacher=teacher,
                         closed_loop_episodes=1, dagger_iterations=1, verbose=0)
    return search.fit(dataset)


def test_pareto_candidates_get_closed_loop_scores(cartpole_result):
    r = cartpole_result
    front = r.pareto_candidates
    assert front and all(c.retention is not None and 0.0 <= c.visited_fidelity <= 1.0 for c in front)
    assert all(c.retention is None for c in r.candidates if c.id not in r.pareto)
    loop = r.closed_loop
    assert loop["teacher_return"] > loop["random_return"]
    for c in front:
        assert c.retention == pytest.approx(retention(c.return_mean, loop["teacher_return"], loop["random_return"]))


def test_the_chosen_student_gets_dagger_and_the_report_shows_the_teacher(cartpole_result):
    r = cartpole_result
    dag = r.closed_loop["dagger"]
    assert dag["after_hash"] == r.best_hash and dag["before_hash"] == r.best.content_hash
    assert r.teacher["name"] == "CartPole-v1" and r.teacher["ops_per_decision"] > 0
    assert r.to_data()["closed_loop"]["dagger"]["iterations"] == 1


def test_retention_is_normalised_between_random_and_teacher():
    assert retention(500.0, 500.0, 20.0) == 1.0 and retention(20.0, 500.0, 20.0) == 0.0
    assert retention(260.0, 500.0, 20.0) == pytest.approx(0.5) and retention(7.0, 7.0, 7.0) == 1.0
    assert set(UniformPolicy(3, seed=0).predict(__import__("numpy").zeros((200, 4)))) == {0, 1, 2}


def test_min_retention_chooses_the_cheapest_front_student_that_keeps_the_return():
    from auto_search.policies import MinRetention
    from hybrid.rollouts import collect
    from hybrid.zoo import load_teacher

    teacher = load_teacher("CartPole-v1")
    dataset, _ = collect("CartPole-v1", teacher, episodes=2, seed=0)
    r = AutoDistill(families=("tree",), budget_s=60, n_jobs=1, env="CartPole-v1", teacher=teacher, policy="min-retention:0.99",
                    closed_loop_episodes=1, dagger_iterations=0, verbose=0).fit(dataset)
    front = r.pareto_candidates
    keepers = [c for c in front if c.retention >= 0.99]
    if keepers:
        assert r.best.id == min(keepers, key=lambda c: (c.ops_per_decision, c.parameters)).id
        assert "keeping ≥ 99%" in r.choice
    else:
        assert r.best.retention == max(c.retention for c in front) and "no Pareto student kept" in r.choice
    # the same policy object refuses to run without an environment, before any work
    with pytest.raises(Exception, match="env=… and teacher=…"):
        AutoDistill(families=("tree",), policy=MinRetention(0.99), verbose=0).fit(dataset)
