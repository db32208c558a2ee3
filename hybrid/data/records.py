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
    """Structured states and the teacher's probabilities there; immutable once built.

    ``featurizer`` holds :class:`RecordFeaturizer` parameters for the students' first stage
    (e.g. ``{"char_ngram_range": (2, 4), "weighting": "tfidf"}``); ``None`` is its defaults. It
    says how states are read, not what they are, so it stays out of the content hash (the fitted
    featurizer is part of every shipped model's artifact and hash).
    """

    state_kind = "record"

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        P: Any,
        action_names: Sequence[str],
        fields: Mapping[str, str],
        weights: Any = None,
        meta: dict[str, Any] | None = None,
        featurizer: Mapping[str, Any] | None = None,
    ) -> None:
        self.featurizer = dict(featurizer or {})
        bad = set(self.featurizer) - {"ngram_range", "max_features", "min_df", "max_categories", "hashing", "lowercase", "char_ngram_range", "weighting"}
        if bad:
            raise DataError(f"unknown featurizer setting(s) {sorted(bad)}; RecordFeaturizer takes ngram_range, max_features, char_ngram_range, weighting, …")
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
        featurizer = RecordFeaturizer(fields=dict(self.fields), **self.featurizer).fit(self.records)
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
            [self.records[i] for i in idx],
            self.P[idx],
            self.action_names,
            self.fields,
            None if self.weights is None else self.weights[idx],
            dict(self.meta),
            self.featurizer,
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
        run_id = start_record_run(store, decisions.action_names, decisions.fields, meta, source=source, teacher=teacher, env=env)
        log_record_steps(
            store, run_id, decisions.records, decisions.probs, decisions.episodes, decisions.actions, decisions.rewards, decisions.dones, decisions.traces
        )
    return run_id


def start_record_run(
    store: Any, action_names: Sequence[str], fields: Mapping[str, str], meta: dict[str, Any], *, source: str, teacher: str | None = None, env: str | None = None
) -> int:
    """Open a run of record states (marked ``state_kind: "record"``, its fields in order); returns its id."""
    return int(
        store.start_run(
            action_names, list(fields), teacher=teacher, env=env, source=source, meta={**meta, "state_kind": "record", "fields": list(fields.items())}
        )
    )  # a list keeps field order


def log_record_steps(
    store: Any,
    run_id: int,
    records: Sequence[Mapping[str, Any]],
    P: np.ndarray,
    episodes: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray | None = None,
    dones: np.ndarray | None = None,
    traces: Sequence[str | None] | None = None,
) -> None:
    """Append record steps to a record run (the caller holds the transaction): each record as its
    canonical JSON, ``P`` as float32 rows, ``actions`` -1 where none was taken, traces as JSON text."""
    n = len(records)
    episode_ids, steps = store._number_steps(run_id, np.asarray(episodes, dtype=np.int64))
    P = np.ascontiguousarray(P, dtype="<f4")
    store.db.conn.executemany(
        "insert into steps (run_id, episode_id, t, state, probs, action, reward, done, trace) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        zip(
            itertools.repeat(run_id),
            episode_ids,
            steps,
            (canonical_json(r) for r in records),
            (row.tobytes() for row in P),
            [None if a < 0 else int(a) for a in actions],
            [None] * n if rewards is None else [None if np.isnan(r) else float(r) for r in rewards],
            [0] * n if dones is None else [int(d) for d in dones],
            [None] * n if traces is None else traces,
        ),
    )


def record_dataset(store: Any, runs: list[dict[str, Any]]) -> RecordDataset:
    """The records and probabilities of record ``runs``, logging order. Runs may name different
    actions (served traffic adds the tools an upstream chose): the dataset's actions are all of
    them in first-seen order, each run's probabilities 0 on the actions it never named."""
    first = runs[0]
    for r in runs:
        if (r["meta"] or {}).get("state_kind") != "record":
            raise DataError(f"run {r['id']} holds numeric states and run {first['id']} records; pass runs=[...] of one kind")
    names = list(dict.fromkeys(a for r in runs for a in r["action_names"]))
    fields: dict[str, str] = {}
    for r in runs:
        fields.update(dict(r["meta"]["fields"]))
    records: list[dict[str, Any]] = []
    blocks = []
    for r in runs:
        rows = store.db.execute("select state, probs from steps where run_id = ? order by id", [r["id"]]).fetchall()
        records.extend(json.loads(bytes(s).decode("utf-8")) for s, _ in rows)
        own = np.frombuffer(b"".join(p for _, p in rows), dtype="<f4").reshape(len(rows), len(r["action_names"]))
        block = np.zeros((len(rows), len(names)), dtype=np.float32)
        block[:, [names.index(a) for a in r["action_names"]]] = own
        blocks.append(block)
    ids = [r["id"] for r in runs]
    return RecordDataset(records, np.concatenate(blocks), names, fields, meta={"source": "trajectory_store", "store": str(store.path), "runs": ids})
