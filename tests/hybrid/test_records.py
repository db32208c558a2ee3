"""Decisions with structured states: ingest (JSONL, CSV), the trajectory store, the featurizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid.data.featurize import RecordFeaturizer, infer_kinds
from hybrid.data.ingest import read_csv, read_jsonl
from hybrid.data.record_ingest import RecordDecisions
from hybrid.data.records import RecordDataset
from hybrid.data.store import TrajectoryStore
from hybrid.errors import DataError

LINES = [
    {"state": {"text": "book a table for two", "channel": "app", "basket": 12.5, "tools_used": ["search"], "vip": True}, "action": "BookRestaurant"},
    {"state": {"text": "what is the weather in Paris", "channel": "web", "basket": 0, "tools_used": [], "vip": False}, "action": "GetWeather"},
    {"state": {"text": "book a flight please", "channel": "app", "basket": 3, "tools_used": ["search", "maps"], "vip": False}, "action": "BookRestaurant"},
]


def write(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_jsonl_with_text_states_gives_records_kinds_and_one_hot_targets(tmp_path):
    d = read_jsonl(write(tmp_path / "d.jsonl", LINES))
    assert isinstance(d, RecordDecisions)
    assert d.fields == {"text": "text", "channel": "category", "basket": "number", "tools_used": "list", "vip": "bool"}
    assert d.action_names == ("BookRestaurant", "GetWeather")
    np.testing.assert_array_equal(d.probs, [[1, 0], [0, 1], [1, 0]])
    assert "text (text)" in d.describe_fields()


def test_action_probs_and_declared_kinds(tmp_path):
    lines = [
        {"state": {"text": "hi", "code": "a1"}, "action_probs": {"x": 0.25, "y": 0.75}},
        {"state": {"text": "hello there", "code": "b2"}, "action_probs": {"x": 1.0, "y": 0.0}, "action": "x"},
    ]
    d = read_jsonl(write(tmp_path / "d.jsonl", lines), fields={"text": "text"})
    assert d.fields["text"] == "text" and d.fields["code"] == "category"
    np.testing.assert_allclose(d.probs, [[0.25, 0.75], [1.0, 0.0]])


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"state": {"text": 5}, "action": "GetWeather"}, "holds a number but held a string on line 1"),
        ({"state": {"text": "x", "nested": {"a": 1}}, "action": "GetWeather"}, "is an object"),
        ({"state": {"text": "x", "tools_used": [1, 2]}, "action": "GetWeather"}, "non-strings"),
        ({"state": {"text": "x"}}, "give the teacher's choice"),
        ({"state": {}, "action": "GetWeather"}, "non-empty object"),
        ({"state": {"text": "x"}, "action": "GetWeather", "extra": 1}, "unknown key"),
    ],
)
def test_a_malformed_text_line_fails_with_its_number_and_stores_nothing(tmp_path, bad, words):
    path = write(tmp_path / "d.jsonl", [*LINES, bad])
    with TrajectoryStore(tmp_path / "s.db") as store:
        with pytest.raises(DataError, match=f"line 4: .*{words}"):
            store.ingest_jsonl(path)
        assert store.n_steps() == 0 and store.runs() == []


def test_invalid_json_in_a_text_log_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(LINES[0]) + "\n{not json\n")
    with pytest.raises(DataError, match="line 2: invalid JSON"):
        read_jsonl(path)


def test_store_round_trip_keeps_records_and_hash(tmp_path):
    path = write(tmp_path / "d.jsonl", LINES)
    with TrajectoryStore(tmp_path / "s.db") as store:
        store.ingest_jsonl(path)
        ds = store.to_dataset()
    assert isinstance(ds, RecordDataset) and len(ds) == 3
    assert ds.records[1]["text"] == "what is the weather in Paris" and ds.records[2]["tools_used"] == ["search", "maps"]
    assert list(ds.fields) == ["text", "channel", "basket", "tools_used", "vip"]  # the log's field order
    direct = RecordDataset.from_jsonl(path)
    assert direct.content_hash == ds.content_hash  # same decisions, same hash, whichever way they came
    changed = RecordDataset([*direct.records[:2], {**direct.records[2], "text": "book a flight now"}], direct.P, direct.action_names, direct.fields)
    assert changed.content_hash != direct.content_hash


def test_csv_with_text_cells_and_action_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "state.text,state.channel,state.basket,state.tools_used,action\n"
        '"book a table for two",app,12.5,"[""search""]",BookRestaurant\n'
        '"what is the weather",web,0,[],GetWeather\n'
    )
    d = read_csv(path)
    assert d.fields == {"text": "text", "channel": "category", "basket": "number", "tools_used": "list"}
    assert d.records[0]["tools_used"] == ["search"] and d.action_names == ("BookRestaurant", "GetWeather")
    path.write_text(path.read_text() + '"hi",app,"[""x""]",[],GetWeather\n')
    with pytest.raises(DataError, match=r"line 4: .*basket"):
        read_csv(path)


def test_numeric_logs_still_give_numeric_decisions(tmp_path):
    d = read_jsonl(write(tmp_path / "d.jsonl", [{"state": [0.1, 0.2], "action_probs": {"a": 0.5, "b": 0.5}}]))
    assert not isinstance(d, RecordDecisions) and d.states.shape == (1, 2)


def test_kind_inference_text_versus_category():
    kinds = infer_kinds([{"q": "a long request here", "c": "app", "n": None}, {"q": "another one", "c": "web", "n": 2}])
    assert kinds == {"q": "text", "c": "category", "n": "number"}
    with pytest.raises(DataError, match="unknown field kind"):
        infer_kinds([{"q": "x"}], {"q": "words"})


def test_featurizer_names_read_as_words_and_unseen_values_add_nothing():
    records = [s["state"] for s in LINES]
    f = RecordFeaturizer(min_df=1, ngram_range=(1, 2)).fit(records)
    names = f.feature_names_
    assert 'text has "book"' in names and 'text has "book a"' in names and 'channel is "app"' in names
    assert 'tools_used has "maps"' in names and "basket" in names and "vip" in names
    X = f.transform(records)
    row = dict(zip(names, X[0]))
    assert row['text has "book"'] == 1 and row['text has "weather"'] == 0 and row["basket"] == 12.5 and row["vip"] == 1
    unseen = f.transform([{"text": "", "channel": "phone", "tools_used": ["never seen"]}, {}])
    assert not unseen.any()  # empty text, unseen category and list item, missing fields: no column fires


def test_featurizer_fits_only_what_it_is_given_and_round_trips():
    train = [{"text": "book a table"}, {"text": "book a cab"}]
    f = RecordFeaturizer(min_df=1, ngram_range=(1, 1)).fit(train)
    assert 'text has "weather"' not in f.feature_names_
    assert not f.transform([{"text": "weather"}]).any()
    g = RecordFeaturizer.from_dict(json.loads(json.dumps(f.to_dict())))
    np.testing.assert_array_equal(g.transform(train), f.transform(train))


def test_hashing_featurizer_uses_stable_buckets():
    records = [{"text": "book a table"}, {"text": "weather today"}]
    f = RecordFeaturizer(hashing=16, min_df=1).fit(records)
    assert f.n_features_out_ == 16
    X = f.transform(records)
    from hybrid.data.featurize_runtime import hash_bucket

    expected = {hash_bucket(g, 16) for g in ("book", "a", "table", "book a", "a table")}
    assert set(np.flatnonzero(X[0])) == expected  # CRC-32 buckets, the same in every process
    assert any('"book"' in n for n in f.feature_names_)


def test_featurizer_refuses_non_dict_records():
    with pytest.raises(DataError, match="record 1 is a str"):
        RecordFeaturizer().fit([{"text": "x"}, "oops"])
