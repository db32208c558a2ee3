"""Parse logged decisions whose states are structured records (text, categories, lists, numbers).

A line looks like::

    {"state": {"text": "book a table for two", "channel": "app", "basket": 12.5, "tools_used": ["search"]},
     "action": "BookRestaurant"}            # or "action_probs": {"BookRestaurant": 0.9, ...}

Field values may be numbers, booleans, strings and lists of strings (``null`` or a missing field
is allowed and featurizes to nothing). Each field keeps one kind across the file; kinds are
inferred (strings averaging more than 1.5 words are text, others categories) unless declared.
The target is ``action_probs`` or just the logged ``action``; with ``action`` only, the action
names are every action logged, in first-seen order, and probabilities are one-hot. The whole file
is checked before anything is returned, so a malformed line fails with its number and reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.featurize import KINDS, infer_kinds, value_kind
from hybrid.errors import DataError
from hybrid.validation import row_sum_problem

_COMPATIBLE = {  # declared kind -> value kinds it accepts
    "number": {"number"},
    "bool": {"bool"},
    "category": {"string", "number", "bool"},
    "list": {"list", "string"},
    "text": {"string"},
}


@dataclass(frozen=True)
class RecordDecisions:
    """Parsed decisions with record states, one per line in file order (``actions`` -1 where absent)."""

    records: list[dict[str, Any]]
    probs: np.ndarray
    action_names: tuple[str, ...]
    fields: dict[str, str]
    episodes: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    traces: list[str | None]

    def describe_fields(self) -> str:
        """``text (text), channel (category), …`` as inferred or declared."""
        return ", ".join(f"{name} ({kind})" for name, kind in self.fields.items())


def read_json_lines(path: Path) -> list[tuple[int, Any]]:
    """``(line number, parsed JSON)`` for every non-blank line of a JSONL file; a line that is not
    JSON fails with its number, before anything is stored."""
    lines = []
    try:
        with open(path, encoding="utf-8") as f:
            for line_no, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                try:
                    lines.append((line_no, json.loads(text)))
                except json.JSONDecodeError as e:
                    raise DataError(
                        f"{path} line {line_no}: invalid JSON ({e.msg} at column {e.colno}); nothing from this file was stored. Fix the line and ingest again."
                    ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    return lines


def is_record_log(lines: list[tuple[int, Any]]) -> bool:
    """True when the first line's state holds a non-number, or it names its ``action`` without
    ``action_probs``. The first line decides, so a typo in a numeric log stays a numeric error
    with its line number; declare ``fields`` for a log whose first states are all numbers."""
    record = lines[0][1] if lines else None
    if not isinstance(record, dict):
        return False
    state = record.get("state")
    if isinstance(state, dict) and any(value_kind(v) != "number" for v in state.values()):
        return True
    # a logged choice by name makes a record log; an action vector is a continuous agent's numeric log
    return "action_probs" not in record and "action" in record and not isinstance(record["action"], (list, dict))


def parse_record_lines(
    lines: list[tuple[int, Any]],
    source: str,
    fields: Mapping[str, str] | None = None,
    allowed_keys: tuple[str, ...] = ("state", "action_probs", "episode", "reward", "action", "done", "trace"),
) -> RecordDecisions:
    """Validate ``(line number, parsed JSON)`` pairs into :class:`RecordDecisions` (all or nothing)."""

    def fail(line: int, reason: str) -> DataError:
        return DataError(f"{source} line {line}: {reason}; nothing from this file was stored. Fix the line and ingest again.")

    if fields is not None:
        bad = {k: v for k, v in fields.items() if v not in KINDS}
        if bad:
            raise DataError(f"unknown field kind(s) {bad}; declare each field as one of {list(KINDS)}")
    if not lines:
        raise DataError(f"{source} holds no decisions; log at least one line with 'state' and 'action' or 'action_probs'")
    first_kind: dict[str, tuple[str, int]] = {}
    names: list[str] | None = None
    for line, record in lines:  # pass 1: shape, value kinds, the action names
        if not isinstance(record, dict):
            raise fail(line, f"expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(allowed_keys))
        if unknown:
            raise fail(line, f"unknown key(s) {unknown}; allowed keys are {list(allowed_keys)} (put extra context in 'trace')")
        state = record.get("state")
        if not isinstance(state, dict) or not state:
            raise fail(line, 'state must be a non-empty object {field: value}, e.g. {"text": "book a table", "channel": "app"}')
        for name, value in state.items():
            _check_value(name, value, line, fail, fields, first_kind)
        if "action_probs" in record and names is None:
            probs = record["action_probs"]
            if not isinstance(probs, dict) or len(probs) < 2:
                raise fail(line, "action_probs must be an object {action: probability} with at least 2 actions")
            names = [str(a) for a in probs]
        elif "action_probs" not in record and "action" not in record:
            raise fail(line, "give the teacher's choice as 'action' (a name) or 'action_probs' ({action: probability})")
    if names is None:  # logged choices only: every action seen, first-seen order
        names = list(dict.fromkeys(str(r["action"]) for _, r in lines))
        if len(names) < 2:
            raise DataError(f"{source}: every line chose {names[0]!r}; distillation needs at least 2 different actions logged")
    P, actions, episodes, rewards, dones, traces = [], [], [], [], [], []
    for line, record in lines:  # pass 2: targets and optional columns
        P.append(_probs(record, names, line, fail))
        action = record.get("action")
        if action is not None and str(action) not in names:
            raise fail(line, f"action {action!r} is not one of the actions {names}")
        actions.append(-1 if action is None else names.index(str(action)))
        episode = record.get("episode", 0)
        if isinstance(episode, bool) or not isinstance(episode, int) or episode < 0:
            raise fail(line, f"episode is {episode!r}; it must be an integer ≥ 0")
        episodes.append(episode)
        reward = record.get("reward")
        if reward is not None and (value_kind(reward) != "number" or not math.isfinite(reward)):
            raise fail(line, f"reward is {reward!r}, not a finite number")
        rewards.append(math.nan if reward is None else float(reward))
        done = record.get("done", False)
        if not isinstance(done, bool) and done not in (0, 1):
            raise fail(line, f"done is {done!r}; use true/false")
        dones.append(bool(done))
        traces.append(None if record.get("trace") is None else json.dumps(record["trace"], sort_keys=True))
    records = [dict(r["state"]) for _, r in lines]
    return RecordDecisions(
        records=records,
        probs=np.asarray(P, dtype=np.float32),
        action_names=tuple(names),
        fields=infer_kinds(records, fields),
        episodes=np.asarray(episodes, dtype=np.int64),
        actions=np.asarray(actions, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float64),
        dones=np.asarray(dones, dtype=bool),
        traces=traces,
    )


def _check_value(name: str, value: Any, line: int, fail: Any, declared: Mapping[str, str] | None, first_kind: dict[str, tuple[str, int]]) -> None:
    """One field value: an allowed type, finite, and the same kind as on earlier lines."""
    kind = value_kind(value)
    if kind is None:
        return
    if kind == "object":
        raise fail(line, f"state field {name!r} is an object; flatten it into fields like {name + '.part'!r} or move it to 'trace'")
    if kind == "number" and not math.isfinite(value):
        raise fail(line, f"state field {name!r} is {value}; only finite numbers are allowed")
    if kind == "list" and not all(isinstance(v, str) for v in value):
        raise fail(line, f"state field {name!r} is a list holding non-strings; lists must hold strings (e.g. tool names)")
    if declared and name in declared:
        if kind not in _COMPATIBLE[declared[name]]:
            raise fail(line, f"state field {name!r} is declared {declared[name]} but holds {value!r}")
        return
    if name not in first_kind:
        first_kind[name] = (kind, line)
    elif first_kind[name][0] != kind:
        was, at = first_kind[name]
        raise fail(line, f"state field {name!r} holds a {kind} but held a {was} on line {at}; keep one kind per field or declare its kind (fields={{...}})")


def _probs(record: dict[str, Any], names: list[str], line: int, fail: Any) -> list[float]:
    """The line's probability row: its ``action_probs`` checked, or one-hot of its ``action``."""
    if "action_probs" not in record:
        action = str(record["action"])
        if action not in names:
            raise fail(line, f"action {action!r} is not one of the actions {names} that action_probs lines use")
        return [float(a == action) for a in names]
    probs = record["action_probs"]
    if not isinstance(probs, dict) or set(map(str, probs)) != set(names):
        got = sorted(probs) if isinstance(probs, dict) else probs
        raise fail(line, f"action_probs has actions {got}, earlier lines have {sorted(names)}; give every action (0 when unavailable)")
    row = []
    for a in names:
        p = probs[a]
        if value_kind(p) != "number" or not math.isfinite(p) or p < 0:
            raise fail(line, f"action_probs[{a!r}] is {p!r}, not a probability ≥ 0")
        row.append(float(p))
    if (problem := row_sum_problem(row)) is not None:
        raise fail(line, f"action_probs {problem}")
    return row


def header_problem(header: Sequence[str], known: Sequence[str]) -> str | None:
    """What is wrong with a CSV header, naming the fix: columns that are no known key (a state
    field needs the ``state.`` prefix) or no column giving the teacher's action; ``None`` if fine."""
    unknown = [h for h in header if not h.startswith(("state.", "action_probs.", "action.", "action_std.")) and h not in known]
    if unknown:
        return (
            f"column(s) {unknown} are not known; name state fields state.<field> ({', '.join('state.' + h for h in unknown)}), "
            f"other columns are action_probs.<action>, action.<dimension> or {list(known)}"
        )
    if not any(h == "action" or h.startswith(("action_probs.", "action.")) for h in header):
        return "no column gives the teacher's action; add an action column (its choice), action_probs.<action> or action.<dimension> columns"
    if not any(h.startswith("state.") for h in header):
        return "no state.<field> column; name the state's columns state.<field>"
    return None


def csv_record_lines(reader: Any, header: list[str], source: str) -> list[tuple[int, Any]]:
    """CSV rows as ``(line number, record)`` pairs for :func:`parse_record_lines`: ``state.<field>``
    cells typed by :func:`_cell`, ``action_probs.<action>`` as numbers, other columns as text."""
    problem = header_problem(header, ("episode", "reward", "action", "done", "trace"))
    if problem:
        raise DataError(f"{source} line 1: the header: {problem}; nothing from this file was stored")
    out = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{source} line {line}: has {len(row)} fields, the header has {len(header)}; nothing from this file was stored")
        record: dict[str, Any] = {}
        for name, cell in zip(header, row):
            if name.startswith("state."):
                record.setdefault("state", {})[name[len("state.") :]] = _cell(cell)
            elif name.startswith("action_probs."):
                value = _cell(cell)
                record.setdefault("action_probs", {})[name[len("action_probs.") :]] = value
            elif cell != "":
                record[name] = _cell(cell) if name in ("episode", "reward", "done", "trace") else cell
        out.append((line, record))
    return out


def _cell(cell: str) -> Any:
    """A CSV cell as JSON would give it: empty → None, a number, true/false, a JSON list, else the text."""
    text = cell.strip()
    if not text:
        return None
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        value = float(text)
        return int(value) if value.is_integer() and "." not in text and "e" not in lowered else value
    except ValueError:
        pass
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return cell
