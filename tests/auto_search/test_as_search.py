"""AutoDistill end to end on small data: choice, determinism across workers and backends,
budget cuts and refusing bad input before any work."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json

import numpy as np
import pytest

from auto_search.errors import SearchConfigError, SearchDataError, SearchError
from auto_search.policies import MinCost
from auto_search.search import AutoDistill
from hybrid.errors import HybridError


def fingerprint(result):
    return [(c.id, c.family, repr(sorted(c.params.items())), c.n_train, c.fidelity, c.content_hash) for c in result.candidates]


@pytest.fixture(scope="module")
def serial_result(small_dataset, fast):
    return AutoDistill(families=("tree", "mlp"), budget_s=60, n_jobs=1, **fast).fit(small_dataset)


def test_search_finds_a_front_and_states_its_choice(serial_result):
    r = serial_result
    assert r.stopped_by is None and r.reproducible and all(x["status"] == "complete" for x in r.rungs)
    front = r.pareto_candidates
    assert [c.ops_per_decision for c in front] == sorted(c.ops_per_decision for c in front)
    assert all(a.fidelity < b.fidelity for a, b in itertools.pairwise(front))
    assert r.chosen.id in r.pareto and r.choice.startswith("knee of the Pareto front")
    assert r.chosen.family in r.choice and r.student.content_hash == r.chosen.content_hash
    assert {c.family for c in r.candidates} == {"tree", "mlp"}
    assert max(c.n_train for c in r.candidates if c.family == "mlp") == 1200  # halving reaches all training states
    assert r.student.predict(small_X()).shape == (5,)


def small_X():
    return np.zeros((5, 4), dtype=np.float32)


def test_same_seed_gives_the_same_candidates_and_model_with_two_workers(serial_result, small_dataset, fast):
    parallel = AutoDistill(families=("tree", "mlp"), budget_s=60, n_jobs=2, backend="loky", **fast).fit(small_dataset)
    assert fingerprint(parallel) == fingerprint(serial_result)
    assert parallel.student.content_hash == serial_result.student.content_hash


def test_dask_backend_on_a_local_cluster_gives_the_same_search(small_dataset, fast):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, distributed.Client(cluster):
        on_dask = AutoDistill(families=("tree",), budget_s=60, n_jobs=2, backend="dask", **fast).fit(small_dataset)
    local = AutoDistill(families=("tree",), budget_s=60, n_jobs=1, **fast).fit(small_dataset)
    assert fingerprint(on_dask) == fingerprint(local) and on_dask.student.content_hash == local.student.content_hash


def test_dask_backend_without_a_client_says_how_to_start_one(small_dataset, fast):
    with pytest.raises(SearchConfigError, match="Client"):
        AutoDistill(families=("tree",), budget_s=5, backend="dask", **fast).fit(small_dataset)


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="Ray is installed here")
def test_ray_backend_without_ray_names_the_install(small_dataset, fast):
    with pytest.raises(SearchConfigError, match="pip install 'ray"):
        AutoDistill(families=("tree",), budget_s=5, backend="ray", **fast).fit(small_dataset)


def test_a_policy_object_changes_the_choice_and_the_words(serial_result, small_dataset, fast):
    r = AutoDistill(families=("tree", "mlp"), budget_s=60, n_jobs=1, policy=MinCost(within_best=0.01), **fast).fit(small_dataset)
    best = max(c.fidelity for c in r.candidates if c.status == "ok")
    assert r.chosen.fidelity >= best - 0.01 and r.choice.startswith("smallest student within 1 point(s)")
    assert r.config.policy == "within-best:0.01" and r.config.config_hash != serial_result.config.config_hash


def test_a_callable_policy_is_recorded_by_name(small_dataset, fast):
    def deepest(pool):
        return max(pool, key=lambda c: (c.ops_per_decision, -c.id))

    r = AutoDistill(families=("tree",), budget_s=60, n_jobs=1, policy=deepest, **fast).fit(small_dataset)
    assert r.config.policy.endswith("deepest") and "custom policy" in r.choice
    assert r.chosen.ops_per_decision == max(c.ops_per_decision for c in r.candidates if c.fidelity > r.baseline_fidelity)


def test_a_search_that_finishes_nothing_raises_naming_a_budget_to_try(small_dataset):
    """Issue 23 #3: it returned no student and no error, and evaluate() failed later on None."""
    # two threads, results awaited only until the deadline: no MLP finishes in 10 ms
    search = AutoDistill(families=("mlp",), budget_s=0.01, n_jobs=2, backend="threading", min_rung_states=300, max_epochs=400, verbose=0)
    with pytest.raises(SearchError, match=r"no candidate finished within budget_s=0.01 s.*try budget_s=30 \(--budget 30\)"):
        search.fit(small_dataset)


def test_the_budget_cuts_whole_rungs_and_the_report_says_so(small_dataset):
    r = AutoDistill(families=("mlp",), budget_s=1.5, n_jobs=1, min_rung_states=300, max_epochs=400, verbose=0).fit(small_dataset)
    assert r.stopped_by == "budget"
    cut = [x for x in r.rungs if x["status"] == "cut"]
    assert cut and all(x["status"] == "cut" for x in r.rungs[r.rungs.index(cut[0]) :])
    whole = {x["index"] for x in r.rungs if x["status"] == "complete"}
    if r.chosen is not None and r.reproducible:
        assert r.chosen.rung in whole


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"budget_s": 0}, SearchConfigError, "budget_s must be > 0"),
        ({"families": ("tree", "svm")}, SearchConfigError, "unknown student family"),
        ({"policy": "cheapest"}, SearchConfigError, "unknown policy"),
    ],
)
def test_bad_options_fail_before_any_work(kwargs, error, match, small_dataset):
    with pytest.raises(error, match=match):
        AutoDistill(**{"families": ("tree",), "budget_s": 5, **kwargs}).fit(small_dataset)


def test_a_teacher_that_always_picks_one_action_is_refused():
    from hybrid.data.dataset import DistillDataset

    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    P = np.tile(np.array([[0.1, 0.9]], dtype=np.float32), (100, 1))
    with pytest.raises(SearchDataError, match="single action 'b'"):
        AutoDistill(families=("tree",), budget_s=5).fit(DistillDataset(X, P, ["a", "b"]))


def test_an_empty_dataset_is_refused_with_a_clear_error():
    from hybrid.data.dataset import DistillDataset

    with pytest.raises(HybridError, match="empty|0 states"):
        AutoDistill(families=("tree",), budget_s=5).fit(DistillDataset(np.zeros((0, 3), np.float32), np.zeros((0, 2), np.float32), ["a", "b"]))


def test_different_seeds_split_differently(make_dataset, fast):
    ds = make_dataset(n=600)
    a = AutoDistill(families=("tree",), budget_s=30, n_jobs=1, seed=0, **fast).fit(ds)
    b = AutoDistill(families=("tree",), budget_s=30, n_jobs=1, seed=1, **fast).fit(ds)
    assert [c.fidelity for c in a.candidates] != [c.fidelity for c in b.candidates]


def test_a_misspelt_option_fails_at_construction_naming_the_closest():
    with pytest.raises(SearchConfigError, match="'max_epochs'"):
        AutoDistill(max_epoch=3)
    with pytest.raises(SearchConfigError, match="confidence"):
        AutoDistill(confidence=1.5)


def test_fit_takes_what_collect_returns_and_refuses_other_things_by_name(fast):
    from hybrid.loop.rollouts import collect
    from hybrid.teachers.zoo import load_teacher

    rollouts = collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=1, seed=0)
    r = AutoDistill(families=("tree",), budget_s=30, n_jobs=1, **fast).fit(rollouts)
    assert r.dataset["content_hash"] == rollouts.dataset.content_hash and r.config.policy == "knee"
    with pytest.raises(SearchDataError, match="hybrid.collect"):
        AutoDistill(families=("tree",), **fast).fit({"X": [[0.0]]})


def test_a_report_written_before_record_is_rewritten_with_the_ledger_entries(serial_result, tmp_path):
    from auto_search.record import record
    from provenance.keys import generate_key
    from provenance.ledger import Ledger

    result = serial_result.with_recording()  # its own reports and ledger entries, apart from the shared fixture's
    result.write_report(tmp_path / "report")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, generate_key(tmp_path / "k.key"), out_dir=tmp_path / "model")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [e["entry_hash"] for e in report["ledger_entries"]] == [e.entry_hash for e in entries]
    model = next(e for e in entries if e.kind == "model")
    assert model.subject == result.student.content_hash and model.attrs["held_out_fidelity"] == result.shipped.fidelity


def test_a_budgeted_search_leaves_the_callers_timer_and_signal_handler_alone(small_dataset, fast):
    import signal

    def mine(signum, frame):  # pragma: no cover - must never fire during the test
        raise AssertionError("the caller's timer fired")

    previous = signal.signal(signal.SIGALRM, mine)
    signal.setitimer(signal.ITIMER_REAL, 300.0)
    try:
        with contextlib.suppress(SearchError):  # a loaded machine may start no worker in 3 s: the timer is what is tested
            AutoDistill(families=("tree", "mlp"), budget_s=3, n_jobs=2, **fast).fit(small_dataset)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 300 and signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_result_is_frozen_and_its_earlier_names_read_from_their_new_place(serial_result):
    import dataclasses

    r = serial_result
    assert (r.stopped_by, r.fit_s, r.baseline_fidelity, r.rungs) == (r.run.stopped_by, r.run.fit_s, r.run.baseline_fidelity, r.run.rungs)
    assert r.closed_loop is None and r.cascade is None and r.data_mix is None and tuple(r.mix_results) == ()
    assert r.ledger_entries is r.recording.ledger_entries and r.to_data()["closed_loop"] is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.chosen = None  # type: ignore[misc]
    with pytest.raises(AttributeError, match="result.student"):
        _ = r.best_student
    copy = r.with_recording()
    assert copy.recording is not r.recording and copy.student is r.student and copy.to_data()["candidates"] == r.to_data()["candidates"]


def test_dask_backend_scatters_the_split_once_per_search(small_dataset, fast, monkeypatch):
    distributed = pytest.importorskip("distributed")
    sent = []
    scatter = distributed.Client.scatter

    def counted(self, data, *args, **kwargs):
        sent.append(type(data).__name__)
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", counted)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, distributed.Client(cluster):
        result = AutoDistill(families=("tree", "rules"), budget_s=60, n_jobs=2, backend="dask", **fast).fit(small_dataset)
    assert len(result.run.rungs) > 1 and sent == ["SplitData"]  # every fit of every rung read the one scattered split
