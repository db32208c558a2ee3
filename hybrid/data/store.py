"""``TrajectoryStore``: the agent's decision log in SQLite, written through sqlite-utils.

Three tables: ``runs`` (teacher id, environment id, seed, time, source, action and feature
names), ``episodes`` (one row per episode of a run) and ``steps`` (state and teacher
probabilities as little-endian float32 blobs, action taken, reward, done, and an optional JSON
trace of the reasoning or tool calls behind the decision). A continuous-action run records its
bounds in ``runs.action_space`` (JSON; NULL for discrete runs) and its steps keep the teacher's
action vector in the ``probs`` blob and its optional std in ``std``. Blobs keep logging above 100k
steps/s and loading 1M steps into a ``DistillDataset`` under a few seconds
(``benchmarks/trajectory_store.py``). Every write is one transaction: a batch of steps or a
whole ingested file lands completely or not at all, and many processes may write one store at
once (WAL, a busy timeout and whole transactions retried: :mod:`hybrid.data.sqlite_writes`).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import sqlite_utils

from hybrid.data.dataset import DistillDataset, check_probabilities
from hybrid.data.ingest import Decisions, read_csv, read_jsonl
from hybrid.data.record_ingest import RecordDecisions
from hybrid.data.sqlite_writes import LOCK_TIMEOUT_S, connect_shared, write_transaction
from hybrid.errors import DataError
from provenance.hashing import hash_file

if TYPE_CHECKING:
    from hybrid.data.records import RecordDataset

_LE_F32 = np.dtype("<f4")
T = TypeVar("T")


class TrajectoryStore:
    """A SQLite decision log at ``path`` (created with its schema when new)."""

    def __init__(self, path: str | Path, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s  # how long a write waits for other writers before a DataError
        self._runs: dict[int, tuple[int, int]] = {}  # run id -> (n_features, n_actions)
        self._spaces: dict[int, dict[str, Any] | None] = {}  # run id -> continuous action space or None
        self._episodes: dict[tuple[int, int], list[int]] = {}  # (run, episode) -> [episode row id, next t]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(connect_shared(self.path, lock_timeout_s))
            if not self._schema_current():  # opening a current store takes no write lock
                self.transaction(self._create_schema)
        except (sqlite3.Error, OSError) as e:
            raise DataError(f"cannot open trajectory store {self.path}: {e}; pass a writable path to a new file or an existing store") from None

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` as one write transaction that waits for other writers and is retried
        whole on a lock (see :mod:`hybrid.data.sqlite_writes`); inside another, it joins it."""
        return write_transaction(self.db.conn, self.path, work, timeout_s=self.lock_timeout_s, on_retry=self._forget)

    def _forget(self) -> None:
        """Drop cached run shapes, episode ids and step counters (after a rollback they may be untrue)."""
        self._runs.clear()
        self._spaces.clear()
        self._episodes.clear()

    def _schema_current(self) -> bool:
        """Whether every table and column of the schema is already there."""
        steps = self.db["steps"].columns_dict if self.db["steps"].exists() else {}
        return self.db["runs"].exists() and self.db["episodes"].exists() and "action_space" in self.db["runs"].columns_dict and {"std", "agent"} <= set(steps)

    def _create_schema(self) -> None:
        self.db.table("runs").create(
            {
                "id": int,
                "teacher": str,
                "env": str,
                "seed": int,
                "created_at": str,
                "source": str,
                "action_names": str,
                "feature_names": str,
                "n_features": int,
                "meta": str,
            },
            pk="id",
            not_null={"created_at", "source", "action_names", "n_features"},
            if_not_exists=True,
        )
        self.db.table("episodes").create(
            {"id": int, "run_id": int, "episode": int},
            pk="id",
            foreign_keys=[("run_id", "runs", "id")],
            not_null={"run_id", "episode"},
            if_not_exists=True,
        )
        self.db.table("episodes").create_index(["run_id", "episode"], unique=True, if_not_exists=True)
        self.db.table("steps").create(
            {
                "id": int,
                "run_id": int,
                "episode_id": int,
                "t": int,
                "state": bytes,
                "probs": bytes,
                "action": int,
                "reward": float,
                "done": int,
                "trace": str,
            },
            pk="id",
            foreign_keys=[("run_id", "runs", "id"), ("episode_id", "episodes", "id")],
            not_null={"run_id", "episode_id", "t", "state", "probs", "done"},
            if_not_exists=True,
        )
        self.db.table("steps").create_index(["run_id"], if_not_exists=True)
        # continuous actions, added to stores created before them: bounds per run, std per step
        if "action_space" not in self.db["runs"].columns_dict:
            self.db.table("runs").add_column("action_space", str)
        if "std" not in self.db["steps"].columns_dict:
            self.db.table("steps").add_column("std", bytes)
        # teams: the agent each decision was made for (NULL for single-agent runs)
        if "agent" not in self.db["steps"].columns_dict:
            self.db.table("steps").add_column("agent", str)

    # -- writing ---------------------------------------------------------------------------
    def start_run(
        self,
        action_names: Sequence[str],
        feature_names: Sequence[str] | None = None,
        *,
        n_features: int | None = None,
        teacher: str | None = None,
        env: str | None = None,
        seed: int | None = None,
        source: str = "api",
        meta: dict[str, Any] | None = None,
        action_low: Sequence[float] | np.ndarray | None = None,
        action_high: Sequence[float] | np.ndarray | None = None,
    ) -> int:
        """Open a run and return its id. ``n_features`` is needed when features are unnamed.

        A continuous-action run passes ``action_low`` and ``action_high`` (one bound per action
        dimension named in ``action_names``); its steps then log action vectors, not probabilities.
        """
        if feature_names is not None:
            n_features = len(feature_names)
        if not n_features or n_features < 1:
            raise DataError("start_run needs feature_names or n_features ≥ 1 to know the state width")
        action_names = [str(a) for a in action_names]
        space = _action_space(action_names, action_low, action_high)
        if len(action_names) < (1 if space else 2) or len(set(action_names)) != len(action_names):
            raise DataError(f"action_names must hold at least {1 if space else 2} unique names; got {action_names}")
        run_id = self.transaction(
            lambda: _inserted_id(
                self.db.table("runs").insert(
                    {
                        "teacher": teacher,
                        "env": env,
                        "seed": seed,
                        "source": source,
                        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "action_names": json.dumps(action_names),
                        "feature_names": None if feature_names is None else json.dumps([str(f) for f in feature_names]),
                        "n_features": int(n_features),
                        "meta": json.dumps(meta or {}, sort_keys=True, default=str),
                        "action_space": None if space is None else json.dumps(space),
                    }
                )
            )
        )
        self._runs[run_id] = (int(n_features), len(action_names))
        self._spaces[run_id] = space
        return run_id

    def _run_shape(self, run_id: int) -> tuple[int, int]:
        if run_id not in self._runs:
            row = self.db.execute("select n_features, action_names, action_space from runs where id = ?", [run_id]).fetchone()
            if row is None:
                raise DataError(f"no run {run_id} in {self.path}; open one with start_run()")
            self._runs[run_id] = (int(row[0]), len(json.loads(row[1])))
            self._spaces[run_id] = None if row[2] is None else json.loads(row[2])
        return self._runs[run_id]

    def _episode(self, run_id: int, episode: int) -> list[int]:
        key = (run_id, episode)
        if key not in self._episodes:
            row = self.db.execute("select id from episodes where run_id = ? and episode = ?", key).fetchone()
            if row is None:
                episode_id = _inserted_id(self.db.table("episodes").insert({"run_id": run_id, "episode": episode}))
                self._episodes[key] = [episode_id, 0]
            else:
                last = self.db.execute("select max(t) from steps where episode_id = ?", [row[0]]).fetchone()[0]
                self._episodes[key] = [row[0], 0 if last is None else last + 1]
        return self._episodes[key]

    def _number_steps(self, run_id: int, episodes: np.ndarray) -> tuple[list[int], list[int]]:
        """Episode row id and step number ``t`` of each step, continuing each episode's count."""
        ids = np.empty(len(episodes), dtype=np.int64)
        steps = np.empty(len(episodes), dtype=np.int64)
        for value in dict.fromkeys(episodes.tolist()):  # episodes in first-seen order
            where = np.flatnonzero(episodes == value)
            slot = self._episode(run_id, value)
            ids[where] = slot[0]
            steps[where] = slot[1] + np.arange(len(where))
            slot[1] += len(where)
        return ids.tolist(), steps.tolist()

    def log_steps(
        self,
        run_id: int,
        states: Any,
        probs: Any,
        *,
        episode: int | Sequence[int] | np.ndarray = 0,
        actions: Sequence[int | None] | np.ndarray | None = None,
        rewards: Sequence[float | None] | np.ndarray | None = None,
        dones: Sequence[bool] | np.ndarray | None = None,
        traces: Sequence[Any] | None = None,
        stds: Any = None,
        agents: Sequence[str] | None = None,
    ) -> int:
        """Append a batch of steps to ``run_id`` in one transaction; returns how many were logged.

        ``episode`` is one episode number for the whole batch or one per step; steps are
        numbered within their episode in the order given. ``traces`` items are JSON-able (or None).
        In a continuous run ``probs`` holds the teacher's actions ``[n, m]`` and ``stds`` its
        optional per-dimension std; ``actions`` (indices) do not apply there. ``agents`` names the
        agent of a team each step's decision was made for (``hybrid.loop.rollouts.team_collect``).
        """
        n_features, n_actions = self._run_shape(run_id)
        space = self._spaces[run_id]
        X = np.ascontiguousarray(states, dtype=_LE_F32)
        P = np.ascontiguousarray(probs, dtype=_LE_F32)
        if X.ndim != 2 or X.shape[1] != n_features or P.shape != (X.shape[0], n_actions):
            raise DataError(f"run {run_id} logs states [n, {n_features}] and probs [n, {n_actions}]; got {X.shape} and {P.shape}")
        if not np.isfinite(X).all():
            raise DataError(f"states hold NaN or infinity (first at row {int(np.argwhere(~np.isfinite(X))[0][0])}); log finite states")
        std_blobs: Sequence[bytes | None] = [None] * len(X)
        if space is None:
            if stds is not None:
                raise DataError(f"run {run_id} logs discrete probabilities; stds belong to continuous runs")
            check_probabilities(P)
        else:
            if actions is not None:
                raise DataError(f"run {run_id} is continuous: its actions are the vectors in probs; pass actions=None")
            # bounds and finiteness are checked the same way a dataset checks them
            DistillDataset(
                X, P, [f"a{i}" for i in range(n_actions)], action_kind="continuous", action_std=stds, action_low=space["low"], action_high=space["high"]
            )
            if stds is not None:
                S = np.ascontiguousarray(stds, dtype=_LE_F32)
                std_blobs = [row.tobytes() for row in S]
        n = len(X)
        episodes = np.broadcast_to(np.asarray(episode, dtype=np.int64), (n,))
        actions = _column(actions, n, "actions", int)
        rewards = _column(rewards, n, "rewards", float)
        done_flags = [int(d) for d in _column(dones, n, "dones", bool)]
        trace_text = [None if t is None else json.dumps(t, sort_keys=True) for t in _column(traces, n, "traces", None)]
        agent_names = _column(agents, n, "agents", str)
        sx, sp = X.shape[1] * 4, P.shape[1] * 4
        xb, pb = X.tobytes(), P.tobytes()

        def insert() -> None:
            episode_ids, steps = self._number_steps(run_id, episodes)
            # sqlite-utils owns the schema; this hot insert goes straight to the connection
            # because per-value JSON checks in insert_all cost 60% of the time
            self.db.conn.executemany(
                "insert into steps (run_id, episode_id, t, state, probs, action, reward, done, trace, std, agent) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(
                    itertools.repeat(run_id),
                    episode_ids,
                    steps,
                    (xb[i : i + sx] for i in range(0, len(xb), sx)),
                    (pb[i : i + sp] for i in range(0, len(pb), sp)),
                    actions,
                    rewards,
                    done_flags,
                    trace_text,
                    std_blobs,
                    agent_names,
                ),
            )

        try:
            self.transaction(insert)
        except BaseException:
            self._episodes.clear()  # rolled back: cached episode ids and step counters are no longer true
            raise
        return n

    def ingest_decisions(
        self,
        decisions: Decisions | RecordDecisions,
        *,
        source: str,
        meta: dict[str, Any],
        teacher: str | None = None,
        env: str | None = None,
        action_space: Any = None,
    ) -> int:
        """Store parsed ``decisions`` as a new run in one transaction (all or nothing); returns the run id.

        ``meta`` says where they came from (file name and hash); readers of other formats
        (``hybrid.data.parquet``) parse into :class:`Decisions` and store through here.
        """
        if isinstance(decisions, RecordDecisions):  # structured states: hybrid.data.records stores them as JSON
            from hybrid.data.records import store_record_run

            try:
                return store_record_run(self, decisions, meta, source=source, teacher=teacher, env=env)
            except BaseException:
                self._forget()
                raise
        # the environment's Box bounds, else the logged range
        bounds: dict[str, Any] = decisions.box_bounds(*((action_space.low, action_space.high) if action_space is not None else ()))

        def store_run() -> int:
            run_id = self.start_run(
                decisions.action_names,
                decisions.feature_names,
                n_features=decisions.states.shape[1],
                teacher=teacher,
                env=env,
                source=source,
                meta=meta,
                **bounds,
            )
            self.log_steps(
                run_id,
                decisions.states,
                decisions.probs,
                episode=decisions.episodes,
                actions=None if bounds else [None if a < 0 else int(a) for a in decisions.actions],
                rewards=[None if np.isnan(r) else float(r) for r in decisions.rewards],
                dones=decisions.dones,
                traces=[None if t is None else json.loads(t) for t in decisions.traces],
                stds=decisions.stds,
                agents=decisions.agents,
            )
            return run_id

        try:
            return self.transaction(store_run)
        except BaseException:
            self._forget()
            raise

    def ingest_jsonl(
        self, path: str | Path, *, teacher: str | None = None, env: str | None = None, action_space: Any = None, fields: dict[str, str] | None = None
    ) -> int:
        """Store the decisions of a JSONL file as a new run (all or nothing); returns the run id.

        Continuous actions take their bounds from ``action_space`` (a gymnasium ``Box``) when
        given, else from the range the file logs. ``fields`` declares kinds of record-state fields
        (``{"text": "text", "channel": "category"}``).
        """
        path = Path(path)
        return self.ingest_decisions(
            read_jsonl(path, fields=fields), source="jsonl", meta=_file_meta(path), teacher=teacher, env=env, action_space=action_space
        )

    def ingest_csv(
        self, path: str | Path, *, teacher: str | None = None, env: str | None = None, action_space: Any = None, fields: dict[str, str] | None = None
    ) -> int:
        """Store the decisions of a CSV file as a new run (all or nothing); as ``ingest_jsonl``."""
        path = Path(path)
        return self.ingest_decisions(read_csv(path, fields=fields), source="csv", meta=_file_meta(path), teacher=teacher, env=env, action_space=action_space)

    def ingest_parquet(self, source: str | Path, *, teacher: str | None = None, env: str | None = None, action_space: Any = None, **filters: Any) -> int:
        """Store a Parquet decision log (file, folder or fsspec URL) as a new run, all or nothing;
        ``filters`` (runs, agents, episodes, time_range) are pushed down to the reader
        (:class:`hybrid.data.parquet.ParquetLog`). Returns the run id."""
        from hybrid.data.parquet import ParquetLog, source_meta

        decisions = ParquetLog(source, **filters).decisions()
        return self.ingest_decisions(decisions, source="parquet", meta=source_meta(source), teacher=teacher, env=env, action_space=action_space)

    def to_parquet(self, out: str | Path, *, runs: Sequence[int] | None = None, partition: bool = False) -> Path:
        """Export runs to Parquet: one file, one file per run, or a folder partitioned by run and
        agent (see :func:`hybrid.data.parquet.write_parquet`)."""
        from hybrid.data.parquet import write_parquet

        return write_parquet(self, out, runs=runs, partition=partition)

    def ingest_transcripts(
        self, path: str | Path, *, teacher: str | None = None, metadata_fields: Sequence[str] | None = None, fields: dict[str, str] | None = None
    ) -> int:
        """Store the assistant turns of a JSONL file of OpenAI chat-completions calls as a new run
        of record decisions (all or nothing, :mod:`hybrid.data.transcripts`); returns the run id."""
        from hybrid.data.transcripts import read_transcripts

        path = Path(path)
        return self.ingest_decisions(
            read_transcripts(path, metadata_fields=metadata_fields, fields=fields), source="openai-chat", meta=_file_meta(path), teacher=teacher
        )

    # -- reading ---------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every run with its names decoded, in creation order."""
        out = []
        for row in self.db["runs"].rows_where(order_by="id"):
            row = dict(row)
            for key in ("action_names", "feature_names", "meta", "action_space"):
                row[key] = None if row[key] is None else json.loads(row[key])
            out.append(row)
        return out

    def n_steps(self, run_id: int | None = None) -> int:
        """Steps logged in ``run_id`` (all runs when None)."""
        if run_id is None:
            return self.db["steps"].count
        return self.db.execute("select count(*) from steps where run_id = ?", [run_id]).fetchone()[0]

    def episode_returns(self, run_id: int) -> np.ndarray:
        """Sum of logged rewards of each episode of ``run_id``, by episode number."""
        rows = self.db.execute(
            "select e.episode, coalesce(sum(s.reward), 0) from episodes e left join steps s on s.episode_id = e.id "
            "where e.run_id = ? group by e.id order by e.episode",
            [run_id],
        ).fetchall()
        return np.asarray([r[1] for r in rows], dtype=np.float64)

    def to_dataset(self, runs: Sequence[int] | None = None) -> DistillDataset | RecordDataset:
        """The states and teacher probabilities of ``runs`` (all when None), in logging order.

        All chosen runs must share action and feature names. ``meta`` records the store path
        and run ids; like all meta it stays out of the dataset's content hash. Record runs
        (structured states) come back as a ``hybrid.data.records.RecordDataset``.
        """
        chosen = [r for r in self.runs() if runs is None or r["id"] in set(runs)]
        if runs is not None and len(chosen) != len(set(runs)):
            missing = sorted(set(runs) - {r["id"] for r in chosen})
            raise DataError(f"runs {missing} are not in {self.path}; see TrajectoryStore.runs()")
        if not chosen:
            raise DataError(f"{self.path} holds no runs; log decisions with start_run/log_steps or ingest a file first")
        first = chosen[0]
        if any((r["meta"] or {}).get("state_kind") == "record" for r in chosen):
            from hybrid.data.records import record_dataset

            return record_dataset(self, chosen)
        for r in chosen[1:]:
            if r["action_space"] != first["action_space"]:
                kinds = ["continuous" if x["action_space"] else "discrete" for x in (r, first)]
                raise DataError(
                    f"run {r['id']} holds {kinds[0]} actions {r['action_space'] or ''} but run {first['id']} {kinds[1]} ones "
                    f"{first['action_space'] or ''}; a dataset has one action kind and bounds: pass runs=[...] of one kind"
                )
            if (r["action_names"], r["feature_names"], r["n_features"]) != (first["action_names"], first["feature_names"], first["n_features"]):
                raise DataError(
                    f"run {r['id']} has actions {r['action_names']} and features {r['feature_names']}, run {first['id']} has "
                    f"{first['action_names']} and {first['feature_names']}; pass runs=[...] with matching names"
                )
        ids = [r["id"] for r in chosen]
        cursor = self.db.execute(f"select state, probs, std, agent from steps where run_id in ({','.join('?' * len(ids))}) order by id", ids)
        states: list[bytes] = []
        probs: list[bytes] = []
        stds: list[bytes | None] = []
        agents: list[str | None] = []
        while batch := cursor.fetchmany(100_000):
            s, p, sd, ag = zip(*batch)
            states.append(b"".join(s))
            probs.append(b"".join(p))
            stds.extend(sd)
            agents.extend(ag)
        d, k = first["n_features"], len(first["action_names"])
        X = np.frombuffer(b"".join(states), dtype=_LE_F32)
        P = np.frombuffer(b"".join(probs), dtype=_LE_F32)
        if X.size % d or P.size != X.size // d * k:
            raise DataError(f"{self.path} has step blobs of the wrong size for {d} features and {k} actions; the store is corrupt")
        meta = {"source": "trajectory_store", "store": str(self.path), "runs": ids}
        space = first["action_space"]
        agent_ids = None
        if any(a is not None for a in agents):  # a team's run: every decision keyed by its agent
            if None in agents:
                raise DataError(f"runs {ids} mix team steps (with an agent) and single-agent steps; pass runs=[...] of one kind")
            agent_ids = agents
        if space is None:
            return DistillDataset(X.reshape(-1, d), P.reshape(-1, k), first["action_names"], first["feature_names"], meta=meta, agent_ids=agent_ids)
        logged = [b for b in stds if b is not None]
        std = None if len(logged) < len(stds) else np.frombuffer(b"".join(logged), dtype=_LE_F32).reshape(-1, k)
        return DistillDataset(
            X.reshape(-1, d),
            P.reshape(-1, k),
            first["action_names"],
            first["feature_names"],
            meta=meta,
            action_kind="continuous",
            action_std=std,
            action_low=space["low"],
            action_high=space["high"],
            agent_ids=agent_ids,
        )


def _file_meta(path: Path) -> dict[str, Any]:
    """Where an ingested file's run came from: its name and content hash."""
    return {"file": path.name, "file_hash": hash_file(path)}


def _inserted_id(table: sqlite_utils.db.Table) -> int:
    """The primary key of the one row ``table`` has just inserted."""
    if table.last_pk is None:  # sqlite-utils sets it after every single-row insert
        raise DataError(f"sqlite-utils reported no id for the row just inserted into table {table.name!r}")
    return int(table.last_pk)


def _action_space(action_names: list[str], low: Sequence[float] | np.ndarray | None, high: Sequence[float] | np.ndarray | None) -> dict[str, Any] | None:
    """The run's continuous action space as JSON-able bounds, or None for a discrete run."""
    if low is None and high is None:
        return None
    if low is None or high is None:
        raise DataError("a continuous run needs both action_low and action_high")
    lo, hi = np.asarray(low, dtype=np.float32).reshape(-1), np.asarray(high, dtype=np.float32).reshape(-1)
    if lo.shape != (len(action_names),) or hi.shape != lo.shape or not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
        raise DataError(f"action bounds {lo.tolist()}..{hi.tolist()} must be finite, high > low, one per action name {action_names}")
    return {"kind": "continuous", "low": lo.astype(float).tolist(), "high": hi.astype(float).tolist()}


def _column(values: Sequence[Any] | np.ndarray | None, n: int, name: str, kind: type | None) -> Sequence[Any]:
    if values is None:
        return [False if kind is bool else None] * n
    items: Sequence[Any] = values.tolist() if isinstance(values, np.ndarray) else values
    if len(items) != n:
        raise DataError(f"{name} has {len(items)} items for {n} states; give one per state")
    if kind is None:
        return items
    return [None if v is None else kind(v) for v in items]
