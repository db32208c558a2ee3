"""What a file is, told by its content and never by its name: a provenance ledger, a trajectory
store, a DistillDataset ``.npz`` or a search report — and which command takes it.

Commands that are handed the wrong kind of file refuse it with :func:`wrong_kind`, which names
what the file is and the command that takes it, instead of opening it for writing (a ledger
opened as a store would gain tables; its signed content would change). Files are opened
read-only here.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"

# kind -> (what it is, in words; what to do with it instead)
FILE_KINDS = {
    "ledger": ("a provenance ledger", "`provenance verify FILE --key KEY.pub`, `provenance log FILE` and `agent-distill reproduce FILE MODEL_HASH` take it"),
    "store": ("a trajectory store", "`agent-distill search FILE --out DIR` takes it"),
    "dataset": ("a DistillDataset .npz", "`agent-distill search FILE --out DIR` takes it"),
    "report": ("a search report (report.json)", "open report.html beside it, or give `agent-distill reproduce` the ledger it lists"),
    "sqlite": ("a SQLite file that is neither a ledger nor a trajectory store", "no command of this toolkit reads it; check the path"),
}


def file_kind(path: str | Path) -> str | None:
    """``"ledger"``, ``"store"``, ``"dataset"``, ``"report"``, ``"sqlite"`` (any other SQLite
    file), or ``None`` for anything else (decisions as JSONL/CSV, text, a missing file)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return None
    if head == SQLITE_MAGIC:
        return _sqlite_kind(path)
    if head.startswith(b"PK"):
        return "dataset" if _npz_has_arrays(path) else None
    if head.lstrip().startswith(b"{"):
        return "report" if _is_report(path) else None
    return None


def wrong_kind(path: str | Path, kind: str, command: str) -> str:
    """The one-line refusal of ``command`` handed ``path`` of ``kind``: what the file is and what takes it."""
    what, instead = FILE_KINDS[kind]
    return f"{path} is {what}, which {command} does not read; {instead.replace('FILE', str(path))}"


def _sqlite_kind(path: Path) -> str:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "sqlite"
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error:
        return "sqlite"
    finally:
        conn.close()
    if "ledger_meta" in tables or "entries" in tables:
        return "ledger"
    if {"runs", "episodes", "steps"} <= tables:
        return "store"
    return "sqlite"


def _npz_has_arrays(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(name.endswith(".npy") for name in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _is_report(path: Path) -> bool:
    """A report is one JSON object with a schema version and candidates (a JSONL line is one object per line)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "schema_version" in data and "candidates" in data
