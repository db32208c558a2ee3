"""Parquet decision logs both ways: store → Parquet → dataset hashes as store → dataset, filters
are pushed down to the reader, JSONL-shaped columns read as JSONL lines, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from hybrid import DataError, TrajectoryStore  # noqa: E402
from hybrid.data.parquet import ParquetLog, load_parquet  # noqa: E402


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    with TrajectoryStore(tmp_path / "fleet.db") as s:
        for _ in range(3):
            run = s.start_run(["a", "b", "c", "d"], [f"x{i}" for i in range(8)], teacher="t", env="E-v0")
            n = 120
            s.log_steps(
                run,
                rng.normal(size=(n, 8)),
                rng.dirichlet(np.ones(4), size=n),
                episode=np.repeat(np.arange(12), 10),
                actions=rng.integers(0, 4, n).tolist(),
                rewards=rng.normal(size=n).tolist(),
                traces=[{"tool": "search", "i": i} for i in range(n)],
                agents=[f"agent-{i % 2}" for i in range(n)],
            )
        yield s


@pytest.mark.parametrize("out", ["log.parquet", "runs"])
def test_store_to_parquet_to_dataset_keeps_the_content_hash(store, tmp_path, out):
    path = store.to_parquet(tmp_path / out)
    ds = load_parquet(path)
    assert ds.content_hash == store.to_dataset().content_hash
    assert len(ParquetLog(path)) == store.n_steps()
    again = TrajectoryStore(tmp_path / "again.db")
    run = again.ingest_parquet(path, runs=[2])
    assert again.to_dataset([run]).content_hash == store.to_dataset([2]).content_hash
    assert again.runs()[0]["source"] == "parquet" and again.runs()[0]["meta"]["file_hash"].startswith("sha256:")


def test_filters_select_runs_agents_episodes_and_time(store, tmp_path):
    path = store.to_parquet(tmp_path / "log.parquet")
    full = store.to_dataset()
    ds = load_parquet(path, runs=[2], agents=["agent-1"], episodes=[0, 3])
    expected = [i for i in range(120, 240) if (i - 120) % 2 == 1 and (i - 120) // 10 in (0, 3)]
    np.testing.assert_array_equal(ds.X, full.X[expected])
    assert len(ParquetLog(path, time_range=("2000-01-01", None))) == 360
    assert len(ParquetLog(path, time_range=(None, "2000-01-01T00:00:00+00:00"))) == 0


def test_filters_are_pushed_down_partitions_left_out_are_never_read(store, tmp_path):
    path = store.to_parquet(tmp_path / "part", partition=True)
    assert sorted(p.name for p in path.iterdir()) == ["run=1", "run=2", "run=3"]
    for f in (path / "run=3").rglob("*.parquet"):
        f.write_bytes(b"not parquet")  # a reader that opened run 3 would fail
    ds = load_parquet(path, runs=[1, 2], agents=["agent-0"])
    assert len(ds) == 120
    with pytest.raises(DataError, match="cannot read|Parquet"):
        load_parquet(path)


def test_a_partitioned_folder_holds_every_decision(store, tmp_path):
    path = store.to_parquet(tmp_path / "part", partition=True)
    ds, full = load_parquet(path), store.to_dataset()
    assert len(ds) == len(full)
    assert sorted(map(tuple, ds.X.tolist())) == sorted(map(tuple, full.X.tolist()))  # read by partition, not logging, order


def test_rows_read_are_only_those_asked_for(store, tmp_path):
    path = store.to_parquet(tmp_path / "log.parquet")
    ds = ParquetLog(path).read([0, 7, 300])
    np.testing.assert_array_equal(ds.X, store.to_dataset().X[[0, 7, 300]])


def test_jsonl_shaped_parquet_reads_as_the_same_jsonl_lines(tmp_path):
    lines = [
        {"state": {"x": 0.5 * i, "v": -1.0}, "action_probs": {"left": 0.25, "right": 0.75}, "episode": i // 3, "action": "right", "trace": {"why": i}}
        for i in range(9)
    ]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = pa.Table.from_pylist([{**line, "trace": json.dumps(line["trace"])} for line in lines])
    pq.write_table(table, tmp_path / "d.parquet")
    with TrajectoryStore(tmp_path / "a.db") as a, TrajectoryStore(tmp_path / "b.db") as b:
        a.ingest_jsonl(jsonl)
        b.ingest_parquet(tmp_path / "d.parquet")
        assert a.to_dataset().content_hash == b.to_dataset().content_hash == load_parquet(tmp_path / "d.parquet").content_hash
        rows = [b.db.execute("select action, trace from steps order by id").fetchall(), a.db.execute("select action, trace from steps order by id").fetchall()]
        assert rows[0] == rows[1]


def test_list_states_and_continuous_actions(tmp_path):
    rows = [{"state": [float(i), 1.0, 2.0], "action": [0.1 * i, -0.5]} for i in range(6)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    ds = load_parquet(tmp_path / "c.parquet")
    assert ds.action_kind == "continuous" and ds.X.shape == (6, 3)
    np.testing.assert_allclose(ds.P[:, 0], 0.1 * np.arange(6), rtol=1e-6)


def test_record_states_read_as_records(tmp_path):
    rows = [{"state": {"text": f"book a table for {i}", "channel": "web"}, "action": ["search", "answer"][i % 2]} for i in range(8)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "r.parquet")
    ds = load_parquet(tmp_path / "r.parquet")
    assert type(ds).__name__ == "RecordDataset" and len(ds) == 8


def test_a_continuous_store_round_trips_with_its_bounds(tmp_path):
    with TrajectoryStore(tmp_path / "c.db") as s:
        run = s.start_run(["throttle", "steer"], ["x", "y"], action_low=[-1, -1], action_high=[1, 1])
        s.log_steps(run, np.random.default_rng(1).normal(size=(30, 2)), np.random.default_rng(2).uniform(-0.9, 0.9, size=(30, 2)), stds=np.full((30, 2), 0.1))
        assert load_parquet(s.to_parquet(tmp_path / "c.parquet")).content_hash == s.to_dataset().content_hash


def test_an_fsspec_url_reads_like_a_local_file(store, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    path = store.to_parquet(tmp_path / "log.parquet")
    fs = fsspec.filesystem("memory")
    fs.put(str(path), "/bucket/logs/log.parquet")
    try:
        assert load_parquet("memory://bucket/logs").content_hash == store.to_dataset().content_hash
        assert len(ParquetLog("memory://bucket/logs/log.parquet", runs=[1])) == 120
    finally:
        fs.rm("/bucket", recursive=True)


def test_missing_columns_are_named(tmp_path):
    pq.write_table(pa.table({"obs": [[1.0, 2.0]], "probs": [[0.5, 0.5]]}), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['state', 'action_probs \(or action\)'\]; .* it has \['obs', 'probs'\]"):
        load_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="no 'run' column to filter on; leave out runs="):
        pq.write_table(pa.Table.from_pylist([{"state": [1.0], "action_probs": {"a": 0.5, "b": 0.5}}]), tmp_path / "norun.parquet")
        ParquetLog(tmp_path / "norun.parquet", runs=[1])
    with pytest.raises(DataError, match="no such Parquet file or folder"):
        ParquetLog(tmp_path / "missing.parquet")


def test_bad_probabilities_and_exports_never_overwrite(store, tmp_path):
    pq.write_table(pa.Table.from_pylist([{"state": [1.0], "action_probs": {"a": 0.5, "b": 0.6}}]), tmp_path / "p.parquet")
    with pytest.raises(DataError, match="action_probs row 0 sums to 1.100000"):
        load_parquet(tmp_path / "p.parquet")
    with pytest.raises(DataError, match="already exists; export to a new path"):
        store.to_parquet(tmp_path / "p.parquet")
