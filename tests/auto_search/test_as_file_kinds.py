"""Commands tell a ledger, a trajectory store, a dataset and a report apart by content, and a
command handed the wrong one names what it is and which command takes it — without changing it
(issue 23 #2: a search on a copy of a ledger gave it runs, episodes and steps tables)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provenance import Ledger, file_kind, generate_key


def run(*args, cwd):
    """The CLI of this checkout, run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture()
def files(small_dataset, tmp_path):
    from hybrid.data.store import TrajectoryStore

    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.append("note", "a note", key=key)
    small_dataset.save(tmp_path / "data.npz")
    with TrajectoryStore(tmp_path / "store.db"):
        pass  # an empty store is a store
    (tmp_path / "report.json").write_text(json.dumps({"schema_version": 2, "candidates": []}))
    return tmp_path


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kinds_are_told_by_content_whatever_the_name(files):
    (files / "ledger.npz").write_bytes((files / "ledger.db").read_bytes())
    assert [file_kind(files / n) for n in ("ledger.db", "ledger.npz", "data.npz", "store.db", "report.json", "k.key")] == [
        "ledger",
        "ledger",
        "dataset",
        "store",
        "report",
        None,
    ]


@pytest.mark.parametrize("name, what, takes", [("ledger.db", "a provenance ledger", "provenance verify"), ("report.json", "a search report", "report.html")])
def test_search_refuses_a_ledger_or_a_report_and_leaves_it_unchanged(files, name, what, takes):
    before = sha(files / name)
    proc = run("auto_search.cli", "search", name, "--out", "out", "--budget", "2", cwd=files)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and what in line and takes in line
    assert sha(files / name) == before and not (files / "out").exists()


def test_verify_names_a_store_or_a_dataset_and_the_command_that_takes_it(files):
    for name, what in (("store.db", "a trajectory store"), ("data.npz", "a DistillDataset .npz")):
        before = sha(files / name)
        proc = run("provenance.cli", "verify", name, "--key", "k.key.pub", cwd=files)
        assert proc.returncode == 2, proc.stderr
        assert what in proc.stderr and "agent-distill search" in proc.stderr
        assert sha(files / name) == before


def test_reading_a_store_changes_no_byte_of_it(tmp_path):
    import shutil

    from auto_search.data_files import load_dataset

    store = tmp_path / "old.db"  # a store of an earlier schema, in rollback-journal mode: opening it would upgrade both
    shutil.copy(Path(__file__).resolve().parents[1] / "fixtures" / "legacy" / "ledger" / "cartpole.db", store)
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    ds = load_dataset(store)
    assert len(ds) > 0 and ds.meta["store"] == str(store) and ds.meta["runs"] == [1]
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]  # no -wal or -shm left beside it
