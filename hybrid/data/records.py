"""``RecordDataset``: teacher decisions on structured states, and their place in the trajectory store.

The record counterpart of ``DistillDataset``: ``records`` (one dict of field values per state),
``P`` float32 ``[n, k]``, action names and the field kinds. It is not featurized: a featurizer is
fitted later, on the training split only, as the first stage of each student. The content hash
covers the canonical JSON of every record, ``P``, the weights and the names and kinds (never
``meta``). In the trajectory store a record run is marked ``state_kind: "record"`` in its meta
and each step's state blob is the record's canonical JSON (UTF-8) instead of float32 numbers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.dataset import check_names, check_probabilities, split_indices
from hybrid.data.featurize import RecordFeaturizer
from hybrid.data.record_ingest import RecordDecisions
from hybrid.errors import DataError
from hybrid.spaces import DiscreteActions, RecordStates
from provenance.hashing import canonical_json, hash_array, hash_json

_FORMAT = 1


class RecordDataset:
    """Structured states and the teacher's probabilities there; immutable once built."""

    state_kind = "record"

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        P: Any,
        action_names: Sequence[str],
        fields: Mapping[str, str],
        weights: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.records: tuple[dict[str, Any], ...] = tuple(dict(r) for r in records)
        P = np.array(P, dtype=np.float32, order="C", copy=True)
        self.action_names = check_names(action_names, "action_names")
        self.fields = dict(fields)
        if P.shape != (len(self.records), len(self.action_names)):
            raise DataError(f"P has shape {P.shape}; expected [{len(self.records)}, {len(self.action_names)}] (one row per record, one column per action)")
        check_probabilities(P)
        P.setflags(write=False)
        if weights is not None:
            weights = np.array(weights, dtype=np.float32, copy=True)
            if weights.shape != (len(self.records),) or not np.isfinite(weights).all() or (weights < 0).any():
                raise DataError(f"weights must be {len(self.records)} finite values ≥ 0")
            weights.setflags(write=False)
        self.P, self.weights = P, weights
        self.meta: dict[str, Any] = dict(meta or {})
        self._hash: str | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"RecordDataset(n={len(self)}, fields={self.fields}, actions={list(self.action_names)})"

    @property
    def action_space(self) -> DiscreteActions:
        """Records are labelled with discrete actions (tools, routes): their probabilities."""
        return DiscreteActions(self.action_names)

    @property
    def state_space(self) -> RecordStates:
        """Structured records: each field's name and kind."""
        return RecordStates(tuple(self.fields.items()))

    def student_features(self, held_out: RecordDataset, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], RecordFeaturizer]:
        """What a student reads: a record featurizer fitted on these training records only (its
        vocabulary never sees a held-out one), the features of the rows in ``order`` and of
        ``held_out``, and the featurizer itself, the first stage of the shipped student."""
        featurizer = RecordFeaturizer(fields=dict(self.fields)).fit(self.records)
        X = featurizer.transform([self.records[i] for i in order])
        return X, featurizer.transform(held_out.records), tuple(featurizer.feature_names_), featurizer

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The field names (features appear only once a featurizer is fitted)."""
        return tuple(self.fields)

    @property
    def n_features(self) -> int:
        return len(self.fields)

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def labels(self) -> np.ndarray:
        return np.argmax(self.P, axis=1)

    def describe_fields(self) -> str:
        return ", ".join(f"{name} ({kind})" for name, kind in self.fields.items())

    @property
    def content_hash(self) -> str:
        """``sha256:…`` over the records' canonical JSON, P, weights, names and kinds."""
        if self._hash is None:
            self._hash = hash_json(
                {
                    "format": _FORMAT,
                    "state_kind": "record",
                    "records": hash_json([canonical_json(r).decode("utf-8") for r in self.records]),
                    "P": hash_array(self.P),
                    "weights": None if self.weights is None else hash_array(self.weights),
                    "action_names": list(self.action_names),
                    "fields": self.fields,
                }
            )
        return self._hash

    def subset(self, indices: Any) -> RecordDataset:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return RecordDataset(
            [self.records[i] for i in idx], self.P[idx], self.action_names, self.fields, None if self.weights is None else self.weights[idx], dict(self.meta)
        )

    def split(self, val_fraction: float = 0.2, seed: int | np.random.Generator = 0) -> tuple[RecordDataset, RecordDataset]:
        """Deterministic random train/validation split (the same rows ``DistillDataset.split`` picks)."""
        train, val = split_indices(len(self), val_fraction, seed)
        return self.subset(train), self.subset(val)

    @classmethod
    def from_decisions(cls, decisions: RecordDecisions, meta: dict[str, Any] | None = None) -> RecordDataset:
        return cls(decisions.records, decisions.probs, decisions.action_names, decisions.fields, meta=meta)

    @classmethod
    def from_jsonl(cls, path: str | Path, fields: Mapping[str, str] | None = None) -> RecordDataset:
        """Read a JSONL decision log with record states straight into a dataset (no store)."""
        from hybrid.data.ingest import read_jsonl

        decisions = read_jsonl(path, fields=fields)
        if not isinstance(decisions, RecordDecisions):
            raise DataError(f"{path} holds numeric states; read it with TrajectoryStore or DistillDataset instead")
        return cls.from_decisions(decisions, {"source": "jsonl", "file": Path(path).name})


# -- the trajectory store's record runs ---------------------------------------------------------
def store_record_run(store: Any, decisions: RecordDecisions, meta: dict[str, Any], *, source: str, teacher: str | None, env: str | None) -> int:
    """Log ``decisions`` as one new run of ``store`` in a single transaction; returns the run id."""
    with store.db.atomic():
        run_id = store.start_run(
            decisions.action_names,
            list(decisions.fields),
            teacher=teacher,
            env=env,
            source=source,
            meta={**meta, "state_kind": "record", "fields": list(decisions.fields.items())},
        )  # a list keeps field order
        episode_ids, steps = store._number_steps(run_id, decisions.episodes)
        P = np.ascontiguousarray(decisions.probs, dtype="<f4")
        store.db.conn.executemany(
            "insert into steps (run_id, episode_id, t, state, probs, action, reward, done, trace) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                itertools.repeat(run_id),
                episode_ids,
                steps,
                (canonical_json(r) for r in decisions.records),
                (row.tobytes() for row in P),
                [None if a < 0 else int(a) for a in decisions.actions],
                [None if np.isnan(r) else float(r) for r in decisions.rewards],
                [int(d) for d in decisions.dones],
                decisions.traces,
            ),
        )
    return run_id


def record_dataset(store: Any, runs: list[dict[str, Any]]) -> RecordDataset:
    """The records and probabilities of ``runs`` (record runs with the same actions), logging order."""
    first = runs[0]
    for r in runs:
        if (r["meta"] or {}).get("state_kind") != "record" or r["action_names"] != first["action_names"]:
            raise DataError(
                f"run {r['id']} cannot be read with run {first['id']}: mixing record and numeric runs, or runs "
                "with different actions; pass runs=[...] of one kind"
            )
    fields: dict[str, str] = {}
    for r in runs:
        fields.update(dict(r["meta"]["fields"]))
    ids = [r["id"] for r in runs]
    rows = store.db.execute(f"select state, probs from steps where run_id in ({','.join('?' * len(ids))}) order by id", ids).fetchall()
    records = [json.loads(bytes(s).decode("utf-8")) for s, _ in rows]
    P = np.frombuffer(b"".join(p for _, p in rows), dtype="<f4").reshape(len(rows), len(first["action_names"]))
    return RecordDataset(records, P, first["action_names"], fields, meta={"source": "trajectory_store", "store": str(store.path), "runs": ids})
