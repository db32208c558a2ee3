"""Decision logs as Parquet, both ways: a trajectory store's runs out, a Parquet file or folder in.

A Parquet log has the columns of a JSONL decision line — ``state`` (a struct of named numeric
fields, or a list of numbers), then ``action_probs`` (a struct ``{action: probability}``) or, for
continuous actions, ``action`` (a struct or list of numbers, optionally ``action_std``); a
discrete ``action`` column names the action taken — and optionally ``episode``, ``step``,
``agent``, ``reward``, ``done`` and ``trace`` (JSON text). Exports add ``run`` and ``time`` (the
run's start) and keep names, bounds and run details in the schema metadata, so a log read back
gives the very arrays the store gives: the dataset's content hash hashes arrays, not files.

Reading goes through ``pyarrow.dataset``: a file, a folder (hive-partitioned by ``run=``/``agent=``
or not), local or any fsspec URL. Row filters — runs, agents, episodes, a time range — are pushed
down to the reader, so row groups and partitions that hold none of the rows are never read, and
:class:`ParquetLog` reads only the rows asked for (what a search samples). A state struct with
text or category fields reads as the same JSONL lines would (a record log).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.data.ingest import Decisions
from hybrid.data.record_ingest import RecordDecisions, parse_record_lines
from hybrid.errors import DataError
from hybrid.validation import non_finite_at, probability_problem

PARQUET_SUFFIXES = (".parquet", ".pq")
META_KEY = b"agent_distill"  # schema metadata: names, bounds and run details of an export
_COLUMNS = ("state", "action_probs", "action", "action_std", "episode", "step", "agent", "reward", "done", "trace")
INSTALL = "pip install 'agent-distill[parquet]' (pyarrow)"


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.dataset
    except ImportError:
        raise DataError(f"Parquet logs need pyarrow: {INSTALL}") from None
    return pyarrow


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` names a Parquet log: a ``.parquet`` file, a folder holding some, or a URL to one."""
    text = str(path)
    if "://" in text:
        return True
    p = Path(path)
    return p.suffix.lower() in PARQUET_SUFFIXES or (p.is_dir() and any(f.suffix.lower() in PARQUET_SUFFIXES for f in p.rglob("*") if f.is_file()))


def _filesystem(source: str | Path) -> tuple[Any, str]:
    """The pyarrow filesystem and path of ``source``: local, or an fsspec URL (s3://, gs://, memory://, …)."""
    pa = _pyarrow()
    text = str(source)
    if "://" not in text:
        if not Path(text).exists():
            raise DataError(f"no such Parquet file or folder: {text}")
        return None, text
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    try:
        fs, path = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError) as e:
        raise DataError(f"cannot open {text}: {e}; install the fsspec filesystem for its scheme (e.g. s3fs for s3://)") from None
    if not fs.exists(path):
        raise DataError(f"no such Parquet file or folder: {text}")
    del pa
    return PyFileSystem(FSSpecHandler(fs)), path


class ParquetLog:
    """A Parquet decision log opened lazily, its filters pushed down to the reader.

    ``runs``, ``agents`` and ``episodes`` keep the rows whose ``run``/``agent``/``episode`` is
    among those given; ``time_range`` (``(start, end)``, datetimes or ISO strings, either may be
    None) keeps rows whose ``time`` lies in ``[start, end)``. ``len(log)`` counts the rows kept
    without reading them; :meth:`read` materialises all of them or only the rows asked for.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        runs: Sequence[int] | None = None,
        agents: Sequence[str] | None = None,
        episodes: Sequence[int] | None = None,
        time_range: tuple[Any, Any] | None = None,
    ) -> None:
        _pyarrow()
        import pyarrow.dataset as pads

        self.source = str(source)
        filesystem, path = _filesystem(source)
        try:
            self._dataset = pads.dataset(path, format="parquet", partitioning="hive", filesystem=filesystem)
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(f"cannot read {self.source} as Parquet: {e}") from None
        self.schema = self._dataset.schema
        names = set(self.schema.names)
        missing = [c for c in ("state",) if c not in names] + ([] if names & {"action_probs", "action"} else ["action_probs (or action)"])
        if missing:
            raise DataError(
                f"{self.source} lacks the column(s) {missing}; a Parquet decision log needs 'state' and 'action_probs' "
                f"(or 'action' for a logged choice or a continuous action vector); it has {sorted(names)}"
            )
        self.filter = self._filter(runs=runs, agents=agents, episodes=episodes, time_range=time_range)
        self.columns = [c for c in _COLUMNS if c in names]
        self.meta = self._export_meta()
        self._rows: int | None = None

    def _filter(self, **given: Any) -> Any:
        import pyarrow.compute as pc

        expr = None
        for column, values in (("run", given["runs"]), ("agent", given["agents"]), ("episode", given["episodes"])):
            if values is None:
                continue
            self._need(column, f"{column}s=")
            part = pc.field(column).isin(list(values))
            expr = part if expr is None else expr & part
        if given["time_range"] is not None:
            self._need("time", "time_range=")
            kind = self.schema.field("time").type
            start, end = (None if t is None else _timestamp(t, kind) for t in given["time_range"])
            for bound, op in ((start, "__ge__"), (end, "__lt__")):
                if bound is not None:
                    part = getattr(pc.field("time"), op)(bound)
                    expr = part if expr is None else expr & part
        return expr

    def _need(self, column: str, option: str) -> None:
        if column not in self.schema.names:
            raise DataError(f"{self.source} has no {column!r} column to filter on; leave out {option} or log the column")

    def _export_meta(self) -> dict[str, Any]:
        raw = (self.schema.metadata or {}).get(META_KEY)
        return {} if raw is None else json.loads(raw)

    def __len__(self) -> int:
        if self._rows is None:
            self._rows = int(self._dataset.count_rows(filter=self.filter))
        return self._rows

    def __repr__(self) -> str:
        return f"ParquetLog({self.source!r}, rows={len(self)})"

    def table(self, rows: Sequence[int] | np.ndarray | None = None) -> Any:
        """The kept rows (or only ``rows``, indices among the kept rows) as an Arrow table."""
        import pyarrow as pa

        try:
            if rows is None:
                return self._dataset.to_table(columns=self.columns, filter=self.filter)
            return self._dataset.take(np.asarray(rows, dtype=np.int64), columns=self.columns, filter=self.filter)
        except (OSError, pa.ArrowException) as e:
            raise DataError(f"cannot read {self.source} as Parquet: {e}") from None

    def decisions(self, rows: Sequence[int] | np.ndarray | None = None) -> Decisions | RecordDecisions:
        """The kept rows (or ``rows``) parsed as decisions, checked as a JSONL file's lines are."""
        table = self.table(rows)
        if table.num_rows == 0:
            raise DataError(f"{self.source} holds no decisions{' under the filters given' if self.filter is not None else ''}")
        return decisions_from_table(table, self.source, self.meta)

    def read(self, rows: Sequence[int] | np.ndarray | None = None) -> Any:
        """The kept rows (or ``rows``) as a ``DistillDataset`` (a ``RecordDataset`` for record states)."""
        decisions = self.decisions(rows)
        meta = {"source": "parquet", "file": self.source}
        if isinstance(decisions, RecordDecisions):
            from hybrid.data.records import RecordDataset

            return RecordDataset.from_decisions(decisions, meta)
        return dataset_from_decisions(decisions, meta, self.meta.get("action_space"))


def load_parquet(source: str | Path, **filters: Any) -> Any:
    """A Parquet decision log (file, folder or fsspec URL) straight into a dataset; ``filters`` as :class:`ParquetLog`."""
    return ParquetLog(source, **filters).read()


def source_meta(source: str | Path) -> dict[str, Any]:
    """Where an ingested Parquet log came from: its name, and for a local file or folder its content hash."""
    from provenance.hashing import hash_dir, hash_file

    text = str(source)
    if "://" in text:
        return {"file": text}
    path = Path(text)
    return {"file": path.name, "file_hash": hash_dir(path) if path.is_dir() else hash_file(path)}


def dataset_from_decisions(d: Decisions, meta: dict[str, Any], action_space: dict[str, Any] | None = None) -> DistillDataset:
    """The dataset a trajectory store gives for ``d``: the same arrays, names and bounds (the
    logged range when no bounds were exported, as the store's ingest takes them)."""
    exported = () if action_space is None else (np.asarray(action_space["low"], dtype=np.float32), np.asarray(action_space["high"], dtype=np.float32))
    bounds = d.box_bounds(*exported)
    kind: dict[str, Any] = {"action_kind": "continuous", "action_std": d.stds, **bounds} if bounds else {}
    agents = d.agents if d.agents is not None and any(a is not None for a in d.agents) else None
    return DistillDataset(d.states, d.probs, d.action_names, d.feature_names, meta=meta, agent_ids=agents, **kind)


# -- Arrow columns → decisions ---------------------------------------------------------------------
def decisions_from_table(table: Any, source: str, meta: dict[str, Any] | None = None) -> Decisions | RecordDecisions:
    """Parse an Arrow table with JSONL-shaped columns into decisions: numeric states column-wise,
    record states (text, categories) row by row exactly as the JSONL reader takes its lines."""
    import pyarrow as pa

    meta = meta or {}
    state = table.column("state").combine_chunks()
    numeric = _numeric_matrix(state)
    continuous = "action_probs" not in table.column_names and _numeric_matrix(table.column("action").combine_chunks()) is not None
    if numeric is None or ("action_probs" not in table.column_names and not continuous):
        return parse_record_lines(list(enumerate(_jsonl_lines(table), start=1)), source, None)
    n = table.num_rows
    states, feature_names = numeric
    _finite(states, source, "state")
    if continuous:
        vectors = _numeric_matrix(table.column("action").combine_chunks())
        assert vectors is not None
        probs, names = vectors
        _finite(probs, source, "action")
        stds = None
        if "action_std" in table.column_names and table.column("action_std").null_count == 0:
            std_matrix = _numeric_matrix(table.column("action_std").combine_chunks())
            stds = None if std_matrix is None else std_matrix[0]
        action_names = tuple(meta.get("action_names") or names or [f"action_{i}" for i in range(probs.shape[1])])
        actions = np.full(n, -1, dtype=np.int64)
    else:
        struct = table.column("action_probs").combine_chunks()
        if not pa.types.is_struct(struct.type) or struct.type.num_fields < 2:
            raise DataError(f"{source}: column action_probs must be a struct {{action: probability}} of at least 2 actions; it is {struct.type}")
        matrix = _numeric_matrix(struct)
        if matrix is None:
            raise DataError(f"{source}: column action_probs must hold numbers; it is {struct.type}")
        probs, names = matrix
        if (problem := probability_problem(probs)) is not None:
            raise DataError(f"{source}: action_probs {problem}; nothing was read. Fix the rows and read again.")
        action_names = tuple(names or ())
        actions = _chosen(table, action_names, source)
        stds = None
    return Decisions(
        states=states,
        probs=probs,
        action_names=action_names,
        feature_names=tuple(feature_names) if feature_names else None,
        episodes=_integers(table, "episode", source),
        actions=actions,
        rewards=_floats(table, "reward"),
        dones=np.asarray(table.column("done").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        if "done" in table.column_names
        else np.zeros(n, bool),
        traces=_traces(table),
        action_kind="continuous" if continuous else "discrete",
        stds=stds,
        agents=table.column("agent").to_pylist() if "agent" in table.column_names else None,
    )


def _numeric_matrix(array: Any) -> tuple[np.ndarray, list[str] | None] | None:
    """A struct of numeric fields or a list of numbers as float32 ``[n, d]`` with the field
    names (None for a list), or None when the column holds anything but numbers."""
    import pyarrow as pa

    if array.null_count:
        return None
    if pa.types.is_struct(array.type):
        fields = [array.type.field(i) for i in range(array.type.num_fields)]
        if not fields or not all(pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in fields):
            return None
        children = array.flatten()
        if any(c.null_count for c in children):
            return None
        return np.column_stack([c.to_numpy(zero_copy_only=False).astype(np.float32, copy=False) for c in children]), [f.name for f in fields]
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type) or pa.types.is_fixed_size_list(array.type):
        values = array.flatten()
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)) or values.null_count:
            return None
        lengths = np.diff(array.offsets.to_numpy()) if not pa.types.is_fixed_size_list(array.type) else np.full(len(array), array.type.list_size)
        if len(lengths) and (lengths.min() != lengths.max() or lengths[0] == 0):
            return None  # ragged lists: the record reader explains which line differs
        width = int(lengths[0]) if len(lengths) else 0
        return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width), None
    return None


def _finite(a: np.ndarray, source: str, column: str) -> None:
    where = non_finite_at(a)
    if where is not None:
        raise DataError(f"{source} row {where[0]}: {column} holds NaN or infinity; only finite numbers are allowed")


def _chosen(table: Any, action_names: tuple[str, ...], source: str) -> np.ndarray:
    """Index of each row's logged ``action`` among ``action_names`` (-1 where none was logged)."""
    n = table.num_rows
    if "action" not in table.column_names:
        return np.full(n, -1, dtype=np.int64)
    index = {name: i for i, name in enumerate(action_names)}
    out = np.full(n, -1, dtype=np.int64)
    for row, value in enumerate(table.column("action").to_pylist()):
        if value is None:
            continue
        if str(value) not in index:
            raise DataError(f"{source} row {row}: action {value!r} is not one of the actions {list(action_names)}")
        out[row] = index[str(value)]
    return out


def _integers(table: Any, column: str, source: str) -> np.ndarray:
    if column not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.int64)
    values = np.asarray(table.column(column).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    if len(values) and values.min() < 0:
        raise DataError(f"{source} row {int(np.argmax(values < 0))}: {column} is negative; it must be an integer ≥ 0")
    return values


def _floats(table: Any, column: str) -> np.ndarray:
    if column not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls read as NaN


def _traces(table: Any) -> list[str | None]:
    if "trace" not in table.column_names:
        return [None] * table.num_rows
    column = table.column("trace")
    import pyarrow as pa

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return [None if t is None else json.dumps(json.loads(t), sort_keys=True) for t in column.to_pylist()]
    return [None if t is None else json.dumps(t, sort_keys=True) for t in column.to_pylist()]


def _jsonl_lines(table: Any) -> list[dict[str, Any]]:
    """The table's rows as the JSONL lines they stand for (null cells left out, trace text parsed)."""
    keep = [c for c in table.column_names if c in ("state", "action_probs", "action", "action_std", "episode", "reward", "done", "trace")]
    lines = []
    for row in table.select(keep).to_pylist():
        line = {k: v for k, v in row.items() if v is not None}
        if isinstance(line.get("trace"), str):
            line["trace"] = json.loads(line["trace"])
        lines.append(line)
    return lines


def _timestamp(value: Any, kind: Any) -> Any:
    """``value`` (a datetime or ISO text) as a scalar of the ``time`` column's type (naive times of a zoned column read as UTC)."""
    import pyarrow as pa

    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        return pa.scalar(when, type=kind)
    except (TypeError, ValueError, pa.ArrowException) as e:
        raise DataError(f"time_range bound {value!r} is not a time the 'time' column ({kind}) can compare with: {e}; give datetimes or ISO text") from None


# -- trajectory store → Parquet --------------------------------------------------------------------
def write_parquet(store: Any, out: str | Path, *, runs: Sequence[int] | None = None, partition: bool = False) -> Path:
    """Export ``runs`` of a ``TrajectoryStore`` (all when None) to Parquet at ``out``, atomically.

    ``out`` ending in ``.parquet`` gets every chosen run in one file; any other ``out`` is a new
    folder with one file per run (``run-<id>.parquet``), or with ``partition=True`` a
    hive-partitioned folder by run and agent (``run=<id>/agent=<name>/…``) that readers prune.
    Returns ``out``.
    """
    pa = _pyarrow()
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    out = Path(out)
    chosen = [r for r in store.runs() if runs is None or r["id"] in set(runs)]
    if runs is not None and len(chosen) != len(set(runs)):
        raise DataError(f"runs {sorted(set(runs) - {r['id'] for r in chosen})} are not in {store.path}; see TrajectoryStore.runs()")
    if not chosen:
        raise DataError(f"{store.path} holds no runs to export; log decisions first")
    if out.exists():
        raise DataError(f"{out} already exists; export to a new path (exports never overwrite)")
    tables = [run_table(store, r) for r in chosen]
    out.parent.mkdir(parents=True, exist_ok=True)
    single = out.suffix.lower() in PARQUET_SUFFIXES
    if single:
        _same_names(chosen)
        table = pa.concat_tables(tables, promote_options="permissive")
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp, row_group_size=_ROW_GROUP)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out
    tmp_dir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for r, table in zip(chosen, tables):
            if partition:
                pads.write_dataset(
                    table,
                    tmp_dir,
                    format="parquet",
                    partitioning=pads.partitioning(pa.schema([("run", pa.int64()), ("agent", pa.string())]), flavor="hive"),
                    basename_template=f"part-{r['id']}-{{i}}.parquet",
                    existing_data_behavior="overwrite_or_ignore",
                    file_options=pads.ParquetFileFormat().make_write_options(),
                    max_rows_per_group=_ROW_GROUP,
                )
            else:
                pq.write_table(table, tmp_dir / f"run-{r['id']:06d}.parquet", row_group_size=_ROW_GROUP)
        os.replace(tmp_dir, out)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out


_ROW_GROUP = 262_144  # rows per row group: small enough for filters to skip most of a log, large enough to scan fast


def _same_names(chosen: list[dict[str, Any]]) -> None:
    first = chosen[0]
    for r in chosen[1:]:
        if (r["action_names"], r["feature_names"], r["action_space"]) != (first["action_names"], first["feature_names"], first["action_space"]):
            raise DataError(
                f"run {r['id']} and run {first['id']} have different actions, features or bounds; one Parquet file holds runs of one kind: "
                "export to a folder (one file per run) or pass runs=[...]"
            )


def run_table(store: Any, run: dict[str, Any]) -> Any:
    """One run of a store as an Arrow table of JSONL-shaped columns, in logging order."""
    pa = _pyarrow()
    if (run["meta"] or {}).get("state_kind") == "record":
        raise DataError(f"run {run['id']} holds record states (text, categories); Parquet export takes numeric runs — export those as JSONL instead")
    rows = store.db.execute(
        "select s.state, s.probs, s.std, s.action, s.reward, s.done, s.trace, s.agent, e.episode, s.t "
        "from steps s join episodes e on e.id = s.episode_id where s.run_id = ? order by s.id",
        [run["id"]],
    ).fetchall()
    d, names = run["n_features"], run["action_names"]
    k = len(names)
    columns: list[Any] = list(zip(*rows)) if rows else [() for _ in range(10)]
    X = np.frombuffer(b"".join(columns[0]), dtype="<f4").reshape(-1, d)
    P = np.frombuffer(b"".join(columns[1]), dtype="<f4").reshape(-1, k)
    n = len(X)
    state = _struct(X, run["feature_names"]) if run["feature_names"] else pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), d)
    data: dict[str, Any] = {"run": pa.array(np.full(n, run["id"], dtype=np.int64)), "state": state}
    if run["action_space"] is None:
        data["action_probs"] = _struct(P, names)
        data["action"] = pa.array([None if a is None else names[a] for a in columns[3]], type=pa.string())
    else:
        data["action"] = _struct(P, names)
        if n and all(s is not None for s in columns[2]):
            data["action_std"] = _struct(np.frombuffer(b"".join(columns[2]), dtype="<f4").reshape(-1, k), names)
    created = datetime.fromisoformat(run["created_at"])
    data |= {
        "reward": pa.array(list(columns[4]), type=pa.float64()),
        "done": pa.array([bool(x) for x in columns[5]], type=pa.bool_()),
        "trace": pa.array(list(columns[6]), type=pa.string()),
        "agent": pa.array(list(columns[7]), type=pa.string()),
        "episode": pa.array(list(columns[8]), type=pa.int64()),
        "step": pa.array(list(columns[9]), type=pa.int64()),
        "time": pa.array([created] * n, type=pa.timestamp("s", tz="UTC") if created.tzinfo else pa.timestamp("s")),
    }
    table = pa.table(data)
    details = {k: run[k] for k in ("action_names", "feature_names", "action_space", "teacher", "env", "seed", "source")}
    return table.replace_schema_metadata({META_KEY: json.dumps({"format": 1, **details}, sort_keys=True)})


def _struct(matrix: np.ndarray, names: Sequence[str]) -> Any:
    import pyarrow as pa

    return pa.StructArray.from_arrays([pa.array(np.ascontiguousarray(matrix[:, i])) for i in range(matrix.shape[1])], names=list(names))
