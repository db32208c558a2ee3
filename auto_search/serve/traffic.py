"""The served-traffic log: every request in the trajectory store, the upstream's answers as new decisions.

Table ``served_requests`` holds one row per request — when, the model hash that decided, who
decided (``student``, ``upstream`` or ``error``), the student's choice and confidence, the
upstream that answered, the HTTP status, latency, the request's state record and any error. The
upstream's answer on a request the student did not decide is also a labelled decision: a step
of a record run (``source: "served"``), so ``agent-distill search STORE.db`` re-distils from the
traffic together with whatever else the store holds. A run's actions are fixed, so an answer
naming a new tool opens a new run holding it (the dataset joins runs' actions).

Writes leave the event loop: a thread owns the SQLite connection and writes what has queued up
in one transaction per batch (at most 50 ms or 512 requests); ``close`` writes everything still queued before it returns.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.featurize import infer_kinds
from hybrid.data.records import log_record_steps, start_record_run
from hybrid.data.store import TrajectoryStore
from hybrid.data.transcripts import STATE_FIELDS, token_probabilities
from provenance.hashing import canonical_json

SERVED_TABLE = "served_requests"
_BATCH = 512
_GATHER_S = 0.05  # how long a batch waits for more requests before it is written


@dataclass(frozen=True)
class Served:
    """One answered request, as the log keeps it."""

    request_id: str
    model_hash: str
    decided_by: str  # "student", "upstream" or "error"
    status: int
    latency_ms: float
    stream: bool = False
    state: dict[str, Any] | None = None
    decision: str | None = None  # the student's choice; None where it deferred
    confidence: float | None = None
    upstream: str | None = None  # the name of the upstream that answered
    answer: tuple[str, list[Any]] | None = None  # the upstream's decision and first-token top_logprobs, when it labels the state
    error: str | None = None
    created_at: str = ""


def open_log(path: str | Path) -> None:
    """Create the store and its served table now, so a bad path fails at start-up, not mid-traffic."""
    with TrajectoryStore(path) as store:
        _create_table(store)


def _create_table(store: TrajectoryStore) -> None:
    store.db.table(SERVED_TABLE).create(
        {
            "id": int,
            "request_id": str,
            "created_at": str,
            "model_hash": str,
            "decided_by": str,
            "decision": str,
            "confidence": float,
            "upstream": str,
            "upstream_answer": str,
            "status": int,
            "latency_ms": float,
            "stream": int,
            "state": str,
            "error": str,
        },
        pk="id",
        if_not_exists=True,
    )


class TrafficLog:
    """A writer thread appending :class:`Served` rows (and labelled steps) to the store at ``path``."""

    def __init__(self, path: str | Path, action_names: tuple[str, ...], fields: dict[str, str]) -> None:
        self.path = Path(path)
        self.action_names, self.fields = action_names, fields
        self.written = 0
        self._queue: queue.Queue[Served | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="agent-distill-traffic-log", daemon=True)
        self._run_id: int | None = None
        self._run_names: list[str] = []
        self._run_fields: dict[str, str] = {}

    def start(self) -> None:
        self._thread.start()

    def model_changed(self, action_names: tuple[str, ...], fields: dict[str, str]) -> None:
        """A reloaded model's actions and fields: labelled steps from now on go to a run naming them."""
        self.action_names, self.fields = action_names, fields

    def put(self, served: Served) -> None:
        if not served.created_at:
            served = Served(**{**served.__dict__, "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")})
        self._queue.put(served)

    def close(self) -> None:
        """Write everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        with TrajectoryStore(self.path) as store:
            _create_table(store)
            done = False
            while not done:
                batch = [self._queue.get()]
                deadline = time.monotonic() + _GATHER_S  # one commit per batch, not per request: commits cost the server's CPU
                while len(batch) < _BATCH and batch[-1] is not None:
                    try:
                        batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        break
                done = batch[-1] is None
                rows = [s for s in batch if s is not None]
                if rows:
                    try:
                        with store.db.atomic():
                            self._write(store, rows)
                        self.written += len(rows)
                    except Exception as e:  # a failed write must not stop the server; say so once per batch
                        print(f"agent-distill serve: could not log {len(rows)} requests to {self.path}: {e}", file=sys.stderr)

    def _write(self, store: TrajectoryStore, rows: list[Served]) -> None:
        store.db.conn.executemany(
            f"insert into {SERVED_TABLE} (request_id, created_at, model_hash, decided_by, decision, confidence, upstream, upstream_answer, "
            "status, latency_ms, stream, state, error) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    s.request_id,
                    s.created_at,
                    s.model_hash,
                    s.decided_by,
                    s.decision,
                    s.confidence,
                    s.upstream,
                    None if s.answer is None else s.answer[0],
                    s.status,
                    s.latency_ms,
                    int(s.stream),
                    None if s.state is None else canonical_json(s.state).decode("utf-8"),
                    s.error,
                )
                for s in rows
            ],
        )
        labelled = [s for s in rows if s.answer is not None and s.state is not None]
        if labelled:
            self._log_labels(store, labelled)

    def _log_labels(self, store: TrajectoryStore, labelled: list[Served]) -> None:
        records = [s.state or {} for s in labelled]
        names = list(dict.fromkeys([*self.action_names, *self._run_names, *(s.answer[0] for s in labelled if s.answer)]))
        fields = infer_kinds(records, {**STATE_FIELDS, **self.fields, **self._run_fields})
        if self._run_id is None or names != self._run_names or not set(fields) <= set(self._run_fields):
            fields = {**self._run_fields, **fields}
            self._run_id = start_record_run(store, names, fields, {"served_by": sorted({s.model_hash for s in labelled})}, source="served", teacher="upstream")
            self._run_names, self._run_fields = names, fields
        P = np.zeros((len(labelled), len(names)), dtype=np.float32)
        actions = np.empty(len(labelled), dtype=np.int64)
        for i, s in enumerate(labelled):
            action, top = s.answer or ("", [])
            actions[i] = names.index(action)
            P[i] = token_probabilities(top, names, int(actions[i])) or np.eye(len(names), dtype=np.float32)[actions[i]]
        traces = [json.dumps({"request_id": s.request_id, "model_hash": s.model_hash, "upstream": s.upstream}, sort_keys=True) for s in labelled]
        log_record_steps(store, self._run_id, records, P, np.zeros(len(labelled), dtype=np.int64), actions, traces=traces)
