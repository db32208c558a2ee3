"""SQLite files that many processes write at once: WAL, a busy timeout, whole transactions retried.

A trajectory store is shared by the agents of a cluster or the workers of a server. SQLite lets
one writer in at a time; the others must wait rather than fail. Three things make that hold:
WAL (readers never block the writer, nor the writer them), a busy timeout (a writer waits for
the lock instead of failing at once), and write transactions that take the lock at their start
(``BEGIN IMMEDIATE``), so a transaction never fails halfway when it upgrades from reading to
writing — the one case a busy timeout does not cover. A transaction that still meets a lock is
rolled back and run again whole, until ``timeout_s`` has passed; then a ``DataError`` names the
file and the fix. Nothing is ever half-written: each attempt commits completely or not at all.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hybrid.errors import DataError

T = TypeVar("T")
LOCK_TIMEOUT_S = 60.0  # as the ledger beside the store: a fleet's writers queue, they do not fail
_RETRY_PAUSE_S = 0.02


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another connection holds the lock (busy or locked)."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def locked_error(path: Path, timeout_s: float) -> DataError:
    """The error for a lock that outlasted the timeout, naming the file and the fix."""
    return DataError(
        f"trajectory store {path} stayed locked by other writers for {timeout_s:g} s; "
        "retry when they are done, give them a longer lock_timeout_s, or log into separate stores and ingest them later"
    )


def connect_shared(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> sqlite3.Connection:
    """Open ``path`` for shared writing: autocommit mode (transactions are explicit), a busy
    timeout of ``timeout_s`` and WAL. The switch to WAL is persistent and needs the file alone
    for a moment, so openers racing on a new file retry it."""
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL's usual pairing: durable at checkpoints, safe from corruption
            return conn
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc) or time.monotonic() > deadline:
                conn.close()
                if is_lock_error(exc):
                    raise locked_error(path, timeout_s) from None
                raise
            time.sleep(_RETRY_PAUSE_S)


def write_transaction(
    conn: sqlite3.Connection, path: Path, work: Callable[[], T], *, timeout_s: float = LOCK_TIMEOUT_S, on_retry: Callable[[], None] | None = None
) -> T:
    """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction and commit; on a lock, roll back, call
    ``on_retry`` (to drop what the attempt cached) and run it again whole until ``timeout_s``.

    Inside a transaction already open, ``work`` simply runs: the outer transaction owns commit and retry.
    """
    if conn.in_transaction:
        return work()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc):
                raise
            if on_retry is not None:
                on_retry()
            if time.monotonic() > deadline:
                raise locked_error(path, timeout_s) from None
            time.sleep(_RETRY_PAUSE_S)
