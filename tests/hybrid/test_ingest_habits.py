"""Data in the shapes users bring — and errors that point at the right fix (issue 23 #7)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.data.dataset import DistillDataset
from hybrid.data.ingest import read_csv, read_jsonl
from hybrid.errors import DataError


def test_csv_with_bare_state_columns_says_to_prefix_them(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,channel,action\nhello,web,a\nbye,app,b\n")
    with pytest.raises(DataError, match=r"line 1: the header:.*state\.text, state\.channel") as e:
        read_csv(path)
    assert "trace" not in str(e.value).split("other columns")[0]


def test_csv_without_an_action_column_blames_the_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("state.text,state.channel\nhi,web\nyo,app\n")
    with pytest.raises(DataError, match=r"line 1: the header: no column gives the teacher's action"):
        read_csv(path)


def test_jsonl_with_list_states_and_chosen_actions_reads_as_one_hot(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"state": [0.1, 0.2], "action": 1}\n{"state": [0.3, -0.2], "action": 0}\n{"state": [0.5, 0.0], "action": 1}\n')
    decisions = read_jsonl(path)
    assert list(decisions.action_names) == ["0", "1"] and decisions.probs.tolist() == [[0, 1], [1, 0], [0, 1]]
    assert np.allclose(decisions.states, [[0.1, 0.2], [0.3, -0.2], [0.5, 0.0]])


def test_npz_of_states_and_labels_loads(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.savez(tmp_path / "d.npz", X=X, y=np.array(["left", "right", "left", "left", "right", "right"]))
    ds = DistillDataset.load(tmp_path / "d.npz")
    assert list(ds.action_names) == ["left", "right"] and ds.P.argmax(axis=1).tolist() == [0, 1, 0, 0, 1, 1]
    np.savez(tmp_path / "i.npz", X=X, y=np.array([0, 2, 1, 0, 0, 1]), action_names=np.array(["a", "b", "c"]))
    assert DistillDataset.load(tmp_path / "i.npz").P.argmax(axis=1).tolist() == [0, 2, 1, 0, 0, 1]
