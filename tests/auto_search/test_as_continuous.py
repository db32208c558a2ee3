"""AutoDistill on continuous actions: the continuous families, tolerance fidelity, retention
against a uniform-in-the-Box policy, continuous DAgger, and a signed record of the choice."""

from __future__ import annotations

import numpy as np
import pytest

from auto_search import record
from auto_search.errors import SearchDataError
from auto_search.search import AutoDistill
from auto_search.space import default_families_for
from hybrid import DistillDataset
from hybrid.students import registered_families


def continuous_families() -> tuple[str, ...]:
    """The families a search of a continuous dataset tries by default."""
    X = np.zeros((2, 1), dtype=np.float32)
    return default_families_for(DistillDataset(X, X, ["u"], action_kind="continuous", action_low=[-1], action_high=[1]))


def test_the_continuous_defaults_are_the_registry_s_continuous_families_in_their_declared_order():
    found = sorted(registered_families(action_kind="continuous").values(), key=lambda c: (c.search_order, c.family))
    assert continuous_families() == tuple(c.family for c in found)


@pytest.fixture(scope="module")
def pendulum_result():
    from hybrid.loop.rollouts import collect
    from hybrid.teachers.zoo import load_teacher

    teacher = load_teacher("Pendulum-v1")
    dataset = collect("Pendulum-v1", teacher, episodes=3, seed=0).dataset
    search = AutoDistill(
        budget_s=60,
        n_jobs=1,
        env="Pendulum-v1",
        teacher=teacher,
        policy="min-retention:0.9",
        families=("regression_tree", "linear_rules"),
        closed_loop_episodes=2,
        closed_loop_max_episodes=4,
        dagger_iterations=1,
        verbose=0,
    )
    return search.fit(dataset), teacher


@pytest.mark.slow
def test_the_continuous_families_are_searched_and_scored_in_the_loop(pendulum_result):
    r = pendulum_result[0]
    assert {c.family for c in r.candidates} == {"regression_tree", "linear_rules"}
    assert all(c.status == "ok" and 0.0 <= c.fidelity <= 1.0 and c.kl >= 0.0 for c in r.candidates)
    loop = r.closed_loop
    assert loop["teacher_return"] > loop["random_return"]
    assert any(c.retention is not None for c in r.pareto_candidates)
    assert r.shipped.confusion is None and r.shipped.content_hash == r.student.content_hash
    assert loop["dagger"]["rounds_run"] == 1 and r.shipped.loop["visited_fidelity"] is not None
    assert 0.0 <= r.shipped.fidelity <= 1.0 and all(0.0 <= c.visited_fidelity <= 1.0 for c in r.pareto_candidates if c.retention is not None)
    actions = r.student.predict(np.zeros((4, 3), dtype=np.float32))
    assert actions.shape == (4, 1) and (np.abs(actions) <= 2.0).all()


@pytest.mark.slow
def test_the_choice_is_recorded_and_exported(pendulum_result, tmp_path):
    from provenance import Ledger, generate_key

    r, teacher = pendulum_result
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(r, ledger, key, teacher=teacher, out_dir=tmp_path / "model", exports=("python", "c"))
    chosen = ["model"] if r.shipped.parent is not None else []  # a DAgger round ships: the chosen candidate is recorded as its parent
    assert [e.kind for e in entries] == ["dataset", "teacher", "search", *chosen, "model", "export", "export"]
    assert (tmp_path / "model" / "student.h").read_text().count("void decide(const double *state, double *action)") == 1


def test_default_families_follow_the_action_kind_and_a_constant_teacher_is_refused():
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    A = np.tanh(X[:, :1])
    r = AutoDistill(budget_s=6, n_jobs=1, verbose=0, max_epochs=2).fit(DistillDataset(X, A, ["u"], action_kind="continuous", action_low=[-1], action_high=[1]))
    assert set(r.config.families) == set(continuous_families()) and {c.family for c in r.candidates} <= set(continuous_families())
    assert r.shipped is not None and r.shipped.confusion is None
    with pytest.raises(SearchDataError, match="same action"):
        AutoDistill(budget_s=5, verbose=0).fit(DistillDataset(X, np.zeros((200, 1)), ["u"], action_kind="continuous", action_low=[-1], action_high=[1]))


def test_a_search_refuses_families_of_the_other_action_kind():
    from auto_search.config import default_families
    from auto_search.errors import SearchConfigError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    A = np.tanh(X[:, :1])
    assert not set(default_families()) & set(continuous_families())  # a discrete default search never gets them
    with pytest.raises(SearchConfigError, match="continuous actions but family \\['tree'\\]"):
        AutoDistill(families=("tree", "regression_tree"), budget_s=5, verbose=0).fit(
            DistillDataset(X, A, ["u"], action_kind="continuous", action_low=[-1], action_high=[1])
        )
    P = np.eye(2)[(X[:, 0] > 0).astype(int)]
    with pytest.raises(SearchConfigError, match="discrete actions but family \\['regression_tree'\\]"):
        AutoDistill(families=("tree", "regression_tree"), budget_s=5, verbose=0).fit(DistillDataset(X, P, ["a", "b"]))


def test_the_report_states_the_action_kind_and_the_fidelity_tolerance(tmp_path):
    import json

    import jsonschema

    from auto_search.report import SCHEMA_PATH

    X = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32)
    data = DistillDataset(X, 2.0 * np.tanh(X[:, :1]), ["torque"], action_kind="continuous", action_low=[-2], action_high=[2])
    result = AutoDistill(budget_s=4, n_jobs=1, verbose=0, families=("regression_tree",)).fit(data)
    report = result.write_report(tmp_path / "report")
    written = json.loads((report / "report.json").read_text())
    jsonschema.validate(written, json.loads(SCHEMA_PATH.read_text()))  # one action dimension is a valid n_actions
    ds = written["dataset"]
    assert ds["action_kind"] == "continuous" and ds["fidelity_tolerance"] == 0.05 and ds["action_low"] == [-2.0] and ds["action_high"] == [2.0]
    words = "continuous actions torque in [-2, 2]; fidelity: share of held-out states whose every action is within 5% of its range"
    assert words in (report / "report.md").read_text() and words in (report / "report.html").read_text()
    assert "| nMSE |" in (report / "report.md").read_text()
