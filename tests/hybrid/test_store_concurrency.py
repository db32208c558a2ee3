"""Many processes logging into one TrajectoryStore: nothing lost, nothing half-written, and a lock
that outlasts the timeout is a DataError naming the file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybrid import DataError, TrajectoryStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
import numpy as np
from hybrid.data.store import TrajectoryStore

path, writer, batches, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(writer)
with TrajectoryStore(path) as store:
    run = store.start_run(["a", "b", "c", "d"], [f"x{i}" for i in range(8)], source=f"writer-{writer}")
    for b in range(batches):
        X = rng.normal(size=(steps, 8)).astype(np.float32)
        X[:, 0] = writer
        X[:, 1] = b
        P = rng.dirichlet(np.ones(4), size=steps).astype(np.float32)
        store.log_steps(run, X, P, episode=b // 10, agents=[f"agent-{writer}"] * steps)
print("ok")
"""


def _writers(path: Path, n: int, batches: int, steps: int) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(w), str(batches), str(steps)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for w in range(n)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in procs]


def test_concurrent_writer_processes_lose_nothing(tmp_path):
    path = tmp_path / "fleet.db"
    n, batches, steps = 4, 15, 20
    done = _writers(path, n, batches, steps)
    assert [d.returncode for d in done] == [0] * n, [d.stderr[-500:] for d in done]
    with TrajectoryStore(path) as store:
        assert len(store.runs()) == n
        assert store.n_steps() == n * batches * steps
        ds = store.to_dataset()
    landed = {(int(w), int(b)) for w, b in np.unique(ds.X[:, :2], axis=0)}
    assert landed == {(w, b) for w in range(n) for b in range(batches)}  # every batch of every writer
    assert sorted(set(ds.agent_ids)) == [f"agent-{w}" for w in range(n)]
    assert sqlite3.connect(path).execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_lock_outlasting_the_timeout_is_a_data_error(tmp_path):
    path = tmp_path / "held.db"
    with TrajectoryStore(path) as store:
        run = store.start_run(["a", "b"], ["x"])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
    try:
        with TrajectoryStore(path, lock_timeout_s=0.3) as store:
            with pytest.raises(DataError, match=r"held\.db stayed locked by other writers for 0\.3 s; retry when they are done"):
                store.log_steps(run, np.zeros((2, 1)), np.full((2, 2), 0.5))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with TrajectoryStore(path) as store:  # nothing half-written, and the store takes the batch once free
        assert store.n_steps() == 0
        assert store.log_steps(run, np.zeros((2, 1)), np.full((2, 2), 0.5)) == 2
        assert store.n_steps() == 2
