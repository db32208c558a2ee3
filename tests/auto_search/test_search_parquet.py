"""`agent-distill search logs/ --out DIR` takes a Parquet folder, reads only the rows --max-rows
samples, and says in the report how many rows each rung read."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from auto_search import AutoDistill
from auto_search.cli import main
from auto_search.data_files import load_dataset
from hybrid import ParquetLog, TrajectoryStore


@pytest.fixture
def logs(tmp_path):
    rng = np.random.default_rng(0)
    with TrajectoryStore(tmp_path / "s.db") as store:
        for _ in range(2):
            run = store.start_run(["left", "right"], ["x", "v"])
            X = rng.normal(size=(1500, 2))
            P = np.where((X[:, :1] > 0), [[0.9, 0.1]], [[0.1, 0.9]])
            store.log_steps(run, X, P)
        folder = store.to_parquet(tmp_path / "logs")
        yield folder, store.to_dataset()


def test_the_cli_searches_a_parquet_folder(logs, tmp_path, capsys):
    folder, _ = logs
    code = main(
        ["search", str(folder), "--out", str(tmp_path / "out"), "--budget", "8", "--families", "tree", "--n-jobs", "1", "--verbose", "0", "--max-rows", "1000"]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["dataset"]["n_states"] == 1000 and report["dataset"]["sampled_from"] == {"rows": 3000, "seed": 0}
    assert all(r["rows_read"] <= 1000 for r in report["rungs"]) and report["rungs"][0]["rows_read"] == 1000
    assert "rows read" in (tmp_path / "out" / "report.md").read_text()


def test_the_sample_is_the_same_whichever_carrier(logs):
    folder, full = logs
    a = load_dataset(folder, max_rows=500, seed=3)
    b = AutoDistill(families=["tree"], max_rows=500, seed=3)
    from auto_search.reading import read_needed

    assert a.content_hash == read_needed(full, 500, 3).content_hash == read_needed(ParquetLog(folder), 500, 3).content_hash
    assert b.config().max_rows == 500


def test_a_lazy_log_is_searched_reading_only_the_sample(logs):
    folder, _ = logs
    result = AutoDistill(families=["tree"], budget_s=8, n_jobs=1, verbose=0, max_rows=600).fit(ParquetLog(folder))
    assert result.to_data()["dataset"]["n_states"] == 600
