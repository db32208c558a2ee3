"""Parse teacher decisions logged elsewhere (JSONL or CSV) into validated arrays.

A JSONL file holds one decision a line::

    {"state": [0.1, -2.0] | {"x": 0.1, "v": -2.0}, "action_probs": {"left": 0.2, "right": 0.8},
     "episode": 0, "reward": 1.0, "action": "right", "done": false, "trace": {...}}

Only ``state`` and ``action_probs`` are required. A continuous-action agent logs its action
vector instead, ``"action": [0.3, -0.7]`` (or ``{"throttle": 0.3, "steer": -0.7}``) with no
``action_probs``, optionally with ``"action_std": [...]``; a file holds one kind only. Named state features become feature names
and action names keep their first-seen order; every later line must use the same names. A CSV
is the same record flattened: columns ``state.<feature>``, ``action_probs.<action>`` (or, for
continuous actions, ``action.<dimension>`` and optionally ``action_std.<dimension>``) and the
optional ``episode``, ``reward``, ``action``, ``done``, ``trace`` (JSON text). The whole file is
parsed before anything is written, so a malformed line fails with its line number and reason
and leaves the store untouched.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.record_ingest import RecordDecisions, csv_record_lines, header_problem, is_record_log, parse_record_lines, read_json_lines
from hybrid.data.transcripts import is_transcript_log, parse_transcript_lines
from hybrid.errors import DataError
from hybrid.validation import row_sum_problem

OPTIONAL_KEYS = ("episode", "reward", "action", "done", "trace")
ALLOWED_KEYS = ("state", "action_probs", *OPTIONAL_KEYS, "action_std")


@dataclass(frozen=True)
class Decisions:
    """Parsed decisions, one row per step in file order.

    ``actions`` is -1 and ``rewards`` NaN where a line gave none; ``traces`` holds JSON text or None.
    """

    states: np.ndarray
    probs: np.ndarray
    action_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None
    episodes: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    traces: list[str | None]
    action_kind: str = "discrete"  # "continuous": probs holds action vectors, actions is all -1
    stds: np.ndarray | None = None  # continuous only: the logged per-dimension std, when every line gave one
    agents: list[str] | None = None  # the agent of a team each decision was made for (a Parquet log's ``agent`` column)

    def box_bounds(self, low: Any = None, high: Any = None) -> dict[str, np.ndarray]:
        """The bounds continuous actions are stored with, as dataset keywords: ``low``/``high``
        (the environment's) when given, else the logged range (a constant dimension gets a
        width of 1); nothing for discrete actions."""
        if self.action_kind != "continuous":
            return {}
        if low is not None and high is not None:
            return {"action_low": np.asarray(low), "action_high": np.asarray(high)}
        lo, hi = self.probs.min(axis=0), self.probs.max(axis=0)
        return {"action_low": lo, "action_high": np.where(hi > lo, hi, lo + 1.0)}


class _Builder:
    """Accumulates records line by line, checking each against the names fixed by the first."""

    def __init__(self, source: str, *, text_cells: bool = False) -> None:
        self.source = source
        self.text_cells = text_cells  # CSV cells are text; JSON numbers must be numbers
        self.feature_names: tuple[str, ...] | None = None
        self.n_features: int | None = None
        self.action_names: tuple[str, ...] | None = None
        self.states: list[list[float]] = []
        self.probs: list[list[float]] = []
        self.episodes: list[int] = []
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.dones: list[bool] = []
        self.traces: list[str | None] = []
        self.kind: str | None = None  # fixed by the first line: "discrete" or "continuous"
        self.stds: list[list[float] | None] = []

    def fail(self, line: int, reason: str) -> DataError:
        return DataError(f"{self.source} line {line}: {reason}; nothing from this file was stored. Fix the line and ingest again.")

    def number(self, value: Any, line: int, what: str) -> float:
        if isinstance(value, str) and self.text_cells:
            try:
                value = float(value)
            except ValueError:
                raise self.fail(line, f"{what} is {value!r}, not a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(line, f"{what} is {value!r}, not a number")
        if not math.isfinite(value):
            raise self.fail(line, f"{what} is {value}; only finite numbers are allowed")
        return float(value)

    def add(self, record: Any, line: int) -> None:
        if not isinstance(record, dict):
            raise self.fail(line, f"expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(ALLOWED_KEYS))
        if unknown:
            raise self.fail(line, f"unknown key(s) {unknown}; allowed keys are {list(ALLOWED_KEYS)} (put extra context in 'trace')")
        kind = "discrete" if "action_probs" in record or not isinstance(record.get("action"), (list, dict)) else "continuous"
        if self.kind is not None and kind != self.kind:
            raise self.fail(
                line,
                f"this line logs {kind} actions but earlier lines {self.kind} ones; a file holds one "
                "action kind (action_probs for discrete, an action vector for continuous)",
            )
        self.kind = kind
        for key in ("state", "action_probs") if kind == "discrete" else ("state",):
            if key not in record:
                raise self.fail(line, f"missing required key {key!r}")
        self.states.append(self._state(record["state"], line))
        self.episodes.append(self._episode(record.get("episode", 0), line))
        reward = record.get("reward")
        self.rewards.append(math.nan if reward is None else self.number(reward, line, "reward"))
        if kind == "continuous":
            self.probs.append(self._vector(record["action"], line, "action"))
            std = record.get("action_std")
            self.stds.append(None if std is None else self._vector(std, line, "action_std"))
            if std is not None and min(self.stds[-1] or [0.0]) < 0:
                raise self.fail(line, "action_std has a negative value; a std is ≥ 0")
            self.actions.append(-1)
        else:
            if "action_std" in record:
                raise self.fail(line, "action_std belongs to continuous actions; discrete lines give action_probs")
            self.probs.append(self._probs(record["action_probs"], line))
            self.actions.append(self._action(record.get("action"), line))
        self.dones.append(self._done(record.get("done", False), line))
        trace = record.get("trace")
        self.traces.append(None if trace is None else json.dumps(trace, sort_keys=True))

    def _state(self, state: Any, line: int) -> list[float]:
        if isinstance(state, dict):
            if self.n_features is not None and self.feature_names is None:
                raise self.fail(line, "state is an object with named features but earlier lines gave lists; use one form")
            if self.feature_names is None:
                self.feature_names = tuple(str(k) for k in state)
                self.n_features = len(state)
            if set(state) != set(self.feature_names):
                raise self.fail(line, f"state has features {sorted(state)}, earlier lines have {sorted(self.feature_names)}")
            return [self.number(state[f], line, f"state feature {f!r}") for f in self.feature_names]
        if isinstance(state, list):
            if self.feature_names is not None:
                raise self.fail(line, "state is a list but earlier lines named their features; use one form")
            if self.n_features is None:
                self.n_features = len(state)
            if len(state) != self.n_features or not state:
                raise self.fail(line, f"state has {len(state)} values, expected {self.n_features or 'at least 1'}")
            return [self.number(v, line, f"state[{i}]") for i, v in enumerate(state)]
        raise self.fail(line, f"state must be a list of numbers or an object {{feature: value}}, got {type(state).__name__}")

    def _probs(self, probs: Any, line: int) -> list[float]:
        if not isinstance(probs, dict) or len(probs) < 2:
            raise self.fail(line, "action_probs must be an object {action: probability} with at least 2 actions")
        if self.action_names is None:
            self.action_names = tuple(str(k) for k in probs)
        if set(probs) != set(self.action_names):
            raise self.fail(
                line, f"action_probs has actions {sorted(probs)}, earlier lines have {sorted(self.action_names)}; give every action (0 when unavailable)"
            )
        row = [self.number(probs[a], line, f"action_probs[{a!r}]") for a in self.action_names]
        if min(row) < 0:
            raise self.fail(line, "action_probs has a negative probability")
        if (problem := row_sum_problem(row)) is not None:
            raise self.fail(line, f"action_probs {problem}")
        return row

    def _vector(self, value: Any, line: int, what: str) -> list[float]:
        """A continuous action (or its std) as a list or {dimension: value}; names fixed by the first line."""
        if isinstance(value, dict):
            if self.action_names is None:
                self.action_names = tuple(str(k) for k in value)
            if set(value) != set(self.action_names):
                raise self.fail(line, f"{what} has dimensions {sorted(value)}, earlier lines have {sorted(self.action_names)}")
            return [self.number(value[a], line, f"{what}[{a!r}]") for a in self.action_names]
        if not isinstance(value, list) or not value:
            raise self.fail(line, f"{what} must be a non-empty list of numbers or an object {{dimension: value}}")
        if self.action_names is None:
            self.action_names = tuple(f"action_{i}" for i in range(len(value)))
        if len(value) != len(self.action_names):
            raise self.fail(line, f"{what} has {len(value)} values, earlier lines have {len(self.action_names)}")
        return [self.number(v, line, f"{what}[{i}]") for i, v in enumerate(value)]

    def _episode(self, episode: Any, line: int) -> int:
        if isinstance(episode, str) and self.text_cells and episode.strip().isdigit():
            episode = int(episode)
        if isinstance(episode, bool) or not isinstance(episode, int) or episode < 0:
            raise self.fail(line, f"episode is {episode!r}; it must be an integer ≥ 0")
        return episode

    def _action(self, action: Any, line: int) -> int:
        if action is None:
            return -1
        names = self.action_names or ()
        if str(action) not in names:
            raise self.fail(line, f"action {action!r} is not one of the actions {list(names)}")
        return names.index(str(action))

    def _done(self, done: Any, line: int) -> bool:
        if isinstance(done, str) and self.text_cells:
            lowered = done.strip().lower()
            if lowered in ("1", "true"):
                return True
            if lowered in ("0", "false", ""):
                return False
        if isinstance(done, bool) or done in (0, 1):
            return bool(done)
        raise self.fail(line, f"done is {done!r}; use true/false")

    def build(self) -> Decisions:
        if not self.states:
            raise DataError(f"{self.source} holds no decisions; log at least one line with 'state' and 'action_probs'")
        assert self.action_names is not None
        return Decisions(
            states=np.asarray(self.states, dtype=np.float32),
            probs=np.asarray(self.probs, dtype=np.float32),
            action_names=self.action_names,
            feature_names=self.feature_names,
            episodes=np.asarray(self.episodes, dtype=np.int64),
            actions=np.asarray(self.actions, dtype=np.int64),
            rewards=np.asarray(self.rewards, dtype=np.float64),
            dones=np.asarray(self.dones, dtype=bool),
            traces=self.traces,
            action_kind=self.kind or "discrete",
            stds=None if not self.stds or any(s is None for s in self.stds) else np.asarray(self.stds, dtype=np.float32),
        )


def read_jsonl(path: str | Path, *, fields: Mapping[str, str] | None = None) -> Decisions | RecordDecisions:
    """Parse a JSONL decision log; blank lines are skipped.

    States holding text, categories or lists (or lines giving only ``action``), or declared
    ``fields`` kinds, give :class:`hybrid.data.record_ingest.RecordDecisions` instead (see there);
    so do chat-completions transcripts (:mod:`hybrid.data.transcripts`), one decision per assistant turn.
    """
    path = Path(path)
    builder = _Builder(str(path))
    lines = read_json_lines(path)
    if is_transcript_log(lines):
        return parse_transcript_lines(lines, str(path), fields=fields)
    lines = _choices_as_probs(lines)
    if fields is not None or is_record_log(lines):
        return parse_record_lines(lines, str(path), fields)
    for line_no, record in lines:
        builder.add(record, line_no)
    return builder.build()


def _choices_as_probs(lines: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Lines of numeric list states with the teacher's choice (``"state": [0.1, 0.2], "action": 1``,
    the usual RL log) as one-hot ``action_probs`` over the choices seen; other logs unchanged."""

    def choice_line(r: Any) -> bool:
        state, action = r.get("state"), r.get("action") if isinstance(r, dict) else None
        numbers = isinstance(state, list) and state and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in state)
        return bool(numbers) and "action_probs" not in r and isinstance(action, (str, int)) and not isinstance(action, bool)

    if not lines or not all(isinstance(r, dict) and choice_line(r) for _, r in lines):
        return lines
    names = sorted({str(r["action"]) for _, r in lines}, key=lambda a: (not a.lstrip("-").isdigit(), int(a) if a.lstrip("-").isdigit() else 0, a))
    return [(n, {**{k: v for k, v in r.items() if k != "action"}, "action_probs": {a: float(a == str(r["action"])) for a in names}}) for n, r in lines]


def read_csv(path: str | Path, *, fields: Mapping[str, str] | None = None) -> Decisions | RecordDecisions:
    """Parse a CSV decision log with ``state.*`` and ``action_probs.*`` (or ``action``) columns.

    Without ``action_probs.*`` columns, with a state cell that is not a number, or with declared
    ``fields``, the states are records: cells read as numbers, ``true``/``false``, JSON lists
    (``["search", "maps"]``) or strings; an empty cell is a missing value.
    """
    path = Path(path)
    builder = _Builder(str(path), text_cells=True)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path} is empty; it needs a header with state.<feature> and action_probs.<action> columns")
            logged_choice = "action" in header and not any(h.startswith("action_probs.") for h in header)
            if fields is not None or logged_choice or _has_text_cells(path, header):
                return parse_record_lines(csv_record_lines(reader, header, str(path)), str(path), fields)
            columns = _csv_columns(header, builder)
            for row in reader:
                line_no = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise builder.fail(line_no, f"has {len(row)} fields, the header has {len(header)}")
                builder.add(_csv_record(row, columns, builder, line_no), line_no)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    return builder.build()


def _csv_columns(header: list[str], builder: _Builder) -> dict[str, Any]:
    states, probs, optional = [], [], {}
    vectors: dict[str, list[tuple[int, str]]] = {"action": [], "action_std": []}
    for i, name in enumerate(header):
        if name.startswith("state."):
            states.append((i, name[len("state.") :]))
        elif name.startswith("action_probs."):
            probs.append((i, name[len("action_probs.") :]))
        elif name.startswith(("action.", "action_std.")):
            key, _, dim = name.partition(".")
            vectors[key].append((i, dim))
        elif name in OPTIONAL_KEYS:
            optional[name] = i
        else:
            raise builder.fail(1, f"the header: {header_problem(header, OPTIONAL_KEYS)}")
    if vectors["action"] and (probs or "action" in optional):
        raise builder.fail(1, "the header mixes action.<dimension> (continuous) with action_probs/action (discrete); use one kind")
    if not states or not (probs or vectors["action"]):
        raise builder.fail(
            1, "the header needs state.<feature> and action_probs.<action> (or action.<dimension>, or an action column naming the choice) columns"
        )
    return {"state": states, "action_probs": probs, "optional": optional, **vectors}


def _csv_record(row: list[str], columns: dict[str, Any], builder: _Builder, line_no: int) -> dict[str, Any]:
    record: dict[str, Any] = {"state": {name: row[i] for i, name in columns["state"]}}
    if columns["action"]:
        record["action"] = {name: row[i] for i, name in columns["action"]}
        if columns["action_std"]:
            record["action_std"] = {name: row[i] for i, name in columns["action_std"]}
    else:
        record["action_probs"] = {name: row[i] for i, name in columns["action_probs"]}
    for key, i in columns["optional"].items():
        cell = row[i]
        if cell == "":
            continue
        if key == "trace":
            try:
                record[key] = json.loads(cell)
            except json.JSONDecodeError as e:
                raise builder.fail(line_no, f"trace is not valid JSON ({e.msg})") from None
        else:
            record[key] = cell
    return record


def _has_text_cells(path: Path, header: list[str]) -> bool:
    """True when a ``state.*`` cell of the first data row is not a number (a record log); the
    first row decides, as for JSONL, so a typo further down stays a numeric error."""
    columns = [i for i, h in enumerate(header) if h.startswith("state.")]
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        next(rows, None)
        row = next((r for r in rows if any(c.strip() for c in r)), [])
    for i in columns:
        if i < len(row) and row[i].strip():
            try:
                float(row[i])
            except ValueError:
                return True
    return False
