"""Ingest of decisions logged elsewhere: good JSONL/CSV files, and malformed ones that change nothing."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hybrid.data.store import TrajectoryStore
from hybrid.errors import DataError
from hybrid.teachers.adapters import as_teacher


def toy_records(toy_teacher, toy_states, n: int = 30) -> list[dict]:
    records = []
    for i, (position, speed) in enumerate(toy_states[:n].tolist()):
        probs = toy_teacher.act((position, speed))
        records.append(
            {
                "state": {"position": position, "speed": speed},
                "action_probs": probs,
                "episode": i // 10,
                "reward": -abs(position),
                "action": max(probs, key=probs.get),
                "trace": {"thought": f"step {i}", "tools": ["ruler"]},
            }
        )
    return records


def write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def write_csv(path, records) -> None:
    features, actions = list(records[0]["state"]), list(records[0]["action_probs"])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"state.{k}" for k in features] + [f"action_probs.{a}" for a in actions] + ["episode", "reward", "action", "trace"])
        for r in records:
            writer.writerow(
                [repr(r["state"][k]) for k in features]
                + [repr(r["action_probs"][a]) for a in actions]
                + [r["episode"], repr(r["reward"]), r["action"], json.dumps(r["trace"])]
            )


@pytest.fixture
def records(toy_teacher, toy_states):
    return toy_records(toy_teacher, toy_states)


def test_jsonl_decisions_become_a_run_with_named_features_and_actions(tmp_path, records, toy_teacher, toy_states):
    write_jsonl(tmp_path / "log.jsonl", records)
    store = TrajectoryStore(tmp_path / "s.db")
    run_id = store.ingest_jsonl(tmp_path / "log.jsonl", teacher="toy")
    ds = store.to_dataset()
    assert ds.feature_names == ("position", "speed")
    assert ds.action_names == ("move_left", "move_right", "stay")
    np.testing.assert_array_equal(ds.X, toy_states[:30])
    np.testing.assert_allclose(ds.P, as_teacher(toy_teacher).predict_proba(toy_states[:30]), rtol=1e-6)
    np.testing.assert_allclose(store.episode_returns(run_id), [sum(r["reward"] for r in records[i : i + 10]) for i in (0, 10, 20)])
    run = store.runs()[0]
    assert run["source"] == "jsonl" and run["teacher"] == "toy" and run["meta"]["file_hash"].startswith("sha256:")
    trace, action = store.db.execute("select trace, action from steps where t = 3 and episode_id = 1").fetchone()
    assert json.loads(trace) == records[3]["trace"] and action == ds.action_names.index(records[3]["action"])


def test_csv_of_the_same_decisions_gives_the_same_dataset_hash(tmp_path, records):
    write_jsonl(tmp_path / "log.jsonl", records)
    write_csv(tmp_path / "log.csv", records)
    store = TrajectoryStore(tmp_path / "s.db")
    a, b = store.ingest_jsonl(tmp_path / "log.jsonl"), store.ingest_csv(tmp_path / "log.csv")
    assert store.to_dataset([a]).content_hash == store.to_dataset([b]).content_hash
    assert store.episode_returns(a).tolist() == store.episode_returns(b).tolist()


def test_list_states_blank_lines_and_optional_keys(tmp_path):
    (tmp_path / "log.jsonl").write_text(
        '{"state": [1, 2.5], "action_probs": {"up": 0.25, "down": 0.75}}\n\n{"state": [3, 4], "action_probs": {"down": 1, "up": 0}, "done": true}\n'
    )
    store = TrajectoryStore(tmp_path / "s.db")
    store.ingest_jsonl(tmp_path / "log.jsonl")
    ds = store.to_dataset()
    assert ds.feature_names is None and ds.action_names == ("up", "down")
    np.testing.assert_array_equal(ds.P, [[0.25, 0.75], [0.0, 1.0]])


BAD_JSONL = [
    ('{"state": [1], "action_probs": {"a": 0.5, "b": 0.5}', "line 2: invalid JSON"),
    ('{"state": [1]}', "line 2: missing required key 'action_probs'"),
    ('{"state": [1], "action_probs": {"a": 0.5, "b": 0.4}}', r"line 2: action_probs sum to 0\.900000, not 1"),
    ('{"state": [1], "action_probs": {"a": 1.5, "b": -0.5}}', "line 2: action_probs has a negative probability"),
    ('{"state": [1], "action_probs": {"a": 0.5, "c": 0.5}}', r"line 2: action_probs has actions \['a', 'c'\]"),
    ('{"state": [1, 2], "action_probs": {"a": 0.5, "b": 0.5}}', "line 2: state has 2 values, expected 1"),
    ('{"state": {"x": 1}, "action_probs": {"a": 0.5, "b": 0.5}}', "line 2: state is an object"),
    ('{"state": [NaN], "action_probs": {"a": 0.5, "b": 0.5}}', r"line 2: state\[0\] is nan"),
    ('{"state": ["1"], "action_probs": {"a": 0.5, "b": 0.5}}', r"line 2: state\[0\] is '1', not a number"),
    ('{"state": [1], "action_probs": {"a": 0.5, "b": 0.5}, "episode": -1}', "line 2: episode is -1"),
    ('{"state": [1], "action_probs": {"a": 0.5, "b": 0.5}, "action": "z"}', "line 2: action 'z' is not one of"),
    ('{"state": [1], "action_probs": {"a": 0.5, "b": 0.5}, "reward": "high"}', "line 2: reward is 'high'"),
    ('{"state": [1], "action_prob": {"a": 0.5, "b": 0.5}}', r"line 2: unknown key\(s\) \['action_prob'\]"),
    ("[1, 2]", "line 2: expected a JSON object"),
]


@pytest.mark.parametrize("bad_line, match", BAD_JSONL)
def test_a_malformed_jsonl_line_fails_the_ingest_and_leaves_the_store_unchanged(tmp_path, records, bad_line, match):
    store = TrajectoryStore(tmp_path / "s.db")
    write_jsonl(tmp_path / "earlier.jsonl", records)
    store.ingest_jsonl(tmp_path / "earlier.jsonl")
    before = (store.runs(), store.n_steps(), store.db["episodes"].count, store.to_dataset().content_hash)
    good = '{"state": [0], "action_probs": {"a": 0.5, "b": 0.5}}'
    (tmp_path / "bad.jsonl").write_text("\n".join([good, bad_line, good]) + "\n")
    with pytest.raises(DataError, match=match + ".*nothing from this file was stored"):
        store.ingest_jsonl(tmp_path / "bad.jsonl")
    assert (store.runs(), store.n_steps(), store.db["episodes"].count, store.to_dataset().content_hash) == before
    assert store.ingest_jsonl(tmp_path / "earlier.jsonl") == 2  # the store still works afterwards


BAD_CSV = [
    ("state.x,action_probs.a,action_probs.b\n1,0.5,0.5\n2,0.5\n", "line 3: has 2 fields, the header has 3"),
    ("state.x,action_probs.a,action_probs.b\n1,0.5,0.5\nabc,0.5,0.5\n", "line 3: state feature 'x' is 'abc', not a number"),
    ("state.x,action_probs.a,action_probs.b,extra\n1,0.5,0.5,3\n", "line 1: the header: column"),
    ("state.x,episode\n1,0\n", "line 1: the header needs"),
    ("state.x,action_probs.a,action_probs.b,trace\n1,0.5,0.5,{oops\n", "line 2: trace is not valid JSON"),
    ("state.x,action_probs.a,action_probs.b,done\n1,0.5,0.5,maybe\n", "line 2: done is 'maybe'"),
]


@pytest.mark.parametrize("text, match", BAD_CSV)
def test_a_malformed_csv_line_fails_the_ingest_and_leaves_the_store_unchanged(tmp_path, text, match):
    store = TrajectoryStore(tmp_path / "s.db")
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        store.ingest_csv(tmp_path / "bad.csv")
    assert store.runs() == [] and store.n_steps() == 0 and store.db["episodes"].count == 0


@pytest.mark.parametrize(
    "suffix, text, match",
    [
        (".jsonl", "\n\n", "holds no decisions"),
        (".csv", "", "is empty"),
    ],
)
def test_empty_files_are_refused(tmp_path, suffix, text, match):
    (tmp_path / f"e{suffix}").write_text(text)
    store = TrajectoryStore(tmp_path / "s.db")
    with pytest.raises(DataError, match=match):
        (store.ingest_jsonl if suffix == ".jsonl" else store.ingest_csv)(tmp_path / f"e{suffix}")


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        TrajectoryStore(tmp_path / "s.db").ingest_jsonl(tmp_path / "nowhere.jsonl")
