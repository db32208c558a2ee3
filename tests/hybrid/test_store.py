"""TrajectoryStore: logged CartPole decisions round-trip to the same dataset hash by every path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid.data.dataset import DistillDataset
from hybrid.data.store import TrajectoryStore
from hybrid.errors import DataError
from hybrid.loop.rollouts import collect
from hybrid.teachers.zoo import load_teacher


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """20k greedy CartPole steps of the committed teacher, logged to a store while collected."""
    path = tmp_path_factory.mktemp("store") / "cartpole.db"
    store = TrajectoryStore(path)
    dataset, returns = collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=40, seed=0, store=store)
    return path, store, dataset, returns


def test_twenty_thousand_steps_round_trip_store_npz_and_jsonl_with_one_hash(logged, tmp_path):
    path, _store, collected, _ = logged
    assert len(collected) >= 20_000
    from_store = TrajectoryStore(path).to_dataset()  # a fresh connection reads what was committed
    assert from_store.content_hash == collected.content_hash
    from_npz = DistillDataset.load(from_store.save(tmp_path / "d.npz"))
    assert from_npz.content_hash == collected.content_hash

    lines = []
    for x, p in zip(from_npz.X.tolist(), from_npz.P.tolist()):
        lines.append(json.dumps({"state": dict(zip(from_npz.feature_names, x)), "action_probs": dict(zip(from_npz.action_names, p))}))
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    other = TrajectoryStore(tmp_path / "other.db")
    other.ingest_jsonl(tmp_path / "d.jsonl")
    assert other.to_dataset().content_hash == collected.content_hash


def test_runs_record_teacher_env_seed_and_episode_returns(logged):
    _, store, collected, returns = logged
    (run,) = store.runs()
    assert run["env"] == "CartPole-v1" and run["seed"] == 0 and run["source"] == "collect"
    assert run["teacher"] == load_teacher("CartPole-v1").content_hash
    assert run["feature_names"] == list(collected.feature_names)
    np.testing.assert_array_equal(store.episode_returns(run["id"]), returns)
    assert collected.meta["run_id"] == run["id"]
    dones = store.db.execute("select count(*) from steps where done = 1").fetchone()[0]
    assert dones == 40


def test_steps_logged_in_batches_continue_their_episode(tmp_path):
    store = TrajectoryStore(tmp_path / "s.db")
    run = store.start_run(["l", "r"], n_features=2)
    P = np.full((3, 2), 0.5)
    store.log_steps(run, np.zeros((3, 2)), P, episode=0, rewards=[1, 1, 1])
    store.log_steps(run, np.ones((3, 2)), P, episode=[0, 1, 1], rewards=[1, 2, 2], traces=[None, {"tool": "search"}, "thinking"])
    rows = store.db.execute("select e.episode, s.t, s.trace from steps s join episodes e on e.id = s.episode_id order by s.id").fetchall()
    assert [(e, t) for e, t, _ in rows] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    assert [json.loads(tr) if tr else None for *_, tr in rows[-2:]] == [{"tool": "search"}, "thinking"]
    np.testing.assert_array_equal(store.episode_returns(run), [4, 4])
    reopened = TrajectoryStore(tmp_path / "s.db")
    reopened.log_steps(run, np.zeros((1, 2)), P[:1], episode=1)
    assert reopened.db.execute("select t from steps order by id desc limit 1").fetchone()[0] == 2


@pytest.mark.parametrize(
    "states, probs, kwargs, match",
    [
        (np.zeros((2, 3)), np.full((2, 2), 0.5), {}, r"states \[n, 2\] and probs \[n, 2\]; got \(2, 3\)"),
        (np.zeros((2, 2)), np.full((2, 3), 1 / 3), {}, r"probs \[n, 2\]"),
        (np.array([[0, np.nan], [0, 0]]), np.full((2, 2), 0.5), {}, "NaN or infinity .*row 0"),
        (np.zeros((2, 2)), [[0.5, 0.5], [0.9, 0.2]], {}, "P row 1 sums to 1.1"),
        (np.zeros((2, 2)), np.full((2, 2), 0.5), {"rewards": [1.0]}, "rewards has 1 items for 2 states"),
    ],
)
def test_bad_batches_are_refused_and_nothing_is_logged(tmp_path, states, probs, kwargs, match):
    store = TrajectoryStore(tmp_path / "s.db")
    run = store.start_run(["l", "r"], ["x", "v"])
    with pytest.raises(DataError, match=match):
        store.log_steps(run, states, probs, **kwargs)
    assert store.n_steps() == 0


def test_unknown_runs_and_bad_run_definitions_are_refused(tmp_path):
    store = TrajectoryStore(tmp_path / "s.db")
    with pytest.raises(DataError, match="no run 7"):
        store.log_steps(7, np.zeros((1, 2)), [[0.5, 0.5]])
    with pytest.raises(DataError, match="feature_names or n_features"):
        store.start_run(["l", "r"])
    with pytest.raises(DataError, match="at least 2 unique"):
        store.start_run(["l"], n_features=1)
    with pytest.raises(DataError, match="holds no runs"):
        store.to_dataset()


def test_to_dataset_selects_runs_and_refuses_to_mix_names(tmp_path):
    store = TrajectoryStore(tmp_path / "s.db")
    a = store.start_run(["l", "r"], ["x"])
    b = store.start_run(["l", "r"], ["x"])
    c = store.start_run(["up", "down"], ["x"])
    for run, value in ((a, 1.0), (b, 2.0), (c, 3.0)):
        store.log_steps(run, [[value]], [[0.5, 0.5]])
    np.testing.assert_array_equal(store.to_dataset([b]).X, [[2.0]])
    np.testing.assert_array_equal(store.to_dataset([a, b]).X, [[1.0], [2.0]])
    assert store.to_dataset([a, b]).meta["runs"] == [a, b]
    with pytest.raises(DataError, match=f"run {c} has actions"):
        store.to_dataset()
    with pytest.raises(DataError, match=r"runs \[9\] are not in"):
        store.to_dataset([a, 9])


finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(1, 20), d=st.integers(1, 5), k=st.integers(2, 4))
def test_any_finite_decisions_hash_the_same_through_store_jsonl_and_npz(tmp_path_factory, data, n, d, k):
    X = np.array(data.draw(st.lists(st.lists(finite32, min_size=d, max_size=d), min_size=n, max_size=n)), dtype=np.float32)
    raw = np.array(data.draw(st.lists(st.lists(st.floats(0.0625, 1.0, width=32), min_size=k, max_size=k), min_size=n, max_size=n)))
    P = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
    names = [f"a{i}" for i in range(k)]
    tmp = tmp_path_factory.mktemp("h")
    direct = DistillDataset(X, P, names)
    store = TrajectoryStore(tmp / "s.db")
    store.log_steps(store.start_run(names, n_features=d), X, P)
    (tmp / "d.jsonl").write_text("".join(json.dumps({"state": x, "action_probs": dict(zip(names, p))}) + "\n" for x, p in zip(X.tolist(), P.tolist())))
    via_jsonl = TrajectoryStore(tmp / "j.db")
    via_jsonl.ingest_jsonl(tmp / "d.jsonl")
    hashes = {
        direct.content_hash,
        store.to_dataset().content_hash,
        via_jsonl.to_dataset().content_hash,
        DistillDataset.load(direct.save(tmp / "d.npz")).content_hash,
    }
    assert len(hashes) == 1


def test_a_new_store_gets_its_folder_and_a_file_that_is_not_sqlite_is_refused(tmp_path):
    with TrajectoryStore(tmp_path / "new" / "folder" / "log.db") as store:
        assert store.n_steps() == 0
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="cannot open trajectory store"):
        TrajectoryStore(junk)
