"""Read logged decisions from a file into a dataset, and say where a dataset came from.

The search CLI and ``reproduce`` read DATA the same way: a ``DistillDataset`` ``.npz``,
decisions as ``.jsonl`` or ``.csv``, a Parquet file or folder, or a trajectory store
(``.db``/``.sqlite``, optionally some of its runs). The dataset's ``meta`` names its file (and runs), which ``record()`` writes
into the ledger so a model's data can be found again.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from auto_search.reading import read_needed
from hybrid.data.dataset import DistillDataset
from hybrid.data.parquet import ParquetLog, is_parquet
from hybrid.data.records import RecordDataset
from hybrid.data.store import TrajectoryStore
from provenance.file_kinds import file_kind, wrong_kind

STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def load_dataset(path: str | Path, runs: Sequence[int] | None = None, *, max_rows: int = 0, seed: int = 0) -> Any:
    """Read DATA into a dataset whose ``meta`` names the file (and the store's runs). A store or
    an ``.npz`` is told by its content; a ledger, a report or another SQLite file is refused,
    naming what it is and the command that takes it; decisions are read by suffix.

    ``max_rows`` keeps a seeded sample of that many rows, as a search with ``max_rows`` does
    (:mod:`auto_search.reading`); a Parquet log reads only those rows.
    """
    if is_parquet(path):  # a Parquet file, folder or URL: only the rows sampled are read
        log = read_needed(ParquetLog(path, runs=runs), max_rows, seed)
        log.meta = {**log.meta, "source": "file", "file": str(path)}
        return log
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    kind = file_kind(path)  # by content: a ledger named .db is refused before anything opens it for writing
    if kind not in (None, "store", "dataset"):
        raise ValueError(wrong_kind(path, kind, "agent-distill search"))
    suffix = path.suffix.lower()
    if kind == "store" and suffix not in STORE_SUFFIXES:
        suffix = ".db"
    elif kind == "dataset":
        suffix = ".npz"
    elif kind is None and suffix in (*STORE_SUFFIXES, ".npz"):
        raise ValueError(f"{path} is not a {'trajectory store' if suffix != '.npz' else 'DistillDataset .npz'} (its content is not one); check the path.")
    if runs is not None and suffix not in STORE_SUFFIXES:
        raise ValueError(f"runs={list(runs)} selects runs of a trajectory store or Parquet log, but {path} is a {suffix} file; leave runs out.")
    ds: DistillDataset | RecordDataset
    if suffix == ".npz":
        ds = DistillDataset.load(path)
    elif suffix in STORE_SUFFIXES:
        # read from a snapshot: opening the store itself would upgrade its schema and journal mode
        with tempfile.TemporaryDirectory() as tmp, TrajectoryStore(snapshot(path, Path(tmp) / "store.db")) as store:
            ds = read_needed(store.to_dataset(runs), max_rows, seed)
        ds.meta = {**ds.meta, "store": str(path)}  # the store it came from, and its runs
        return ds
    elif suffix in (".jsonl", ".csv"):
        with tempfile.TemporaryDirectory() as tmp, TrajectoryStore(Path(tmp) / "store.db") as store:
            (store.ingest_jsonl if suffix == ".jsonl" else store.ingest_csv)(path)
            ds = store.to_dataset()
    else:
        raise ValueError(f"cannot read {path}: use a .npz dataset, .jsonl or .csv decisions, a .parquet file or folder, or a .db/.sqlite trajectory store.")
    ds = read_needed(ds, max_rows, seed)
    ds.meta = {**ds.meta, "source": "file", "file": str(path)}
    return ds


def snapshot(path: Path, copy: Path) -> Path:
    """A consistent copy of the SQLite file ``path`` at ``copy``, read through a read-only
    connection (SQLite's backup), so reading a store never changes a byte of it."""
    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy


def source_of(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a dataset was read from — ``{"path": …}`` plus ``"runs"`` for a trajectory store —
    or ``None`` when it was built in memory."""
    if meta.get("source") == "file" and meta.get("file"):
        return {"path": str(meta["file"])}
    if meta.get("source") == "trajectory_store" and meta.get("store"):
        return {"path": str(meta["store"]), "runs": [int(r) for r in meta.get("runs") or []]}
    return None
