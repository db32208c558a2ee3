"""Searching decisions with structured states: featurize once per search, on the training split.

The search's families stay numeric students; a record dataset reaches them through a
:class:`hybrid.data.featurize.RecordFeaturizer` fitted on the training part of the split only (its
vocabulary never sees a held-out request), and the chosen student ships joined to that
featurizer as one :class:`hybrid.students.featurized.FeaturizedStudent`, so the model hash and
the Python export cover the vocabulary too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auto_search.evaluate import SplitData

RECORD_FAMILIES = ("keywords", "linear")  # keyword lists (0/1 features) and n-gram softmax regression: added by default on record states


@dataclass(frozen=True)
class RecordSplit(SplitData):
    """A split of a record dataset: the numeric features of both parts and the fitted featurizer."""

    featurizer: Any = None


def is_record_dataset(ds: Any) -> bool:
    return getattr(ds, "state_kind", None) == "record"


def split_records(ds: Any, config: Any) -> tuple[RecordSplit, Any]:
    """The dataset's seeded split, featurized by a featurizer fitted on the training records only;
    training rows in a seeded order, as for numeric datasets. Returns the split and the training
    records as a dataset."""
    from hybrid.data.featurize import RecordFeaturizer

    train, val = ds.split(config.val_fraction, config.seed)
    order = np.random.default_rng(config.seed).permutation(len(train))
    featurizer = RecordFeaturizer(fields=ds.fields).fit(train.records)
    w, wv = train.weights, val.weights
    return RecordSplit(
        X=featurizer.transform([train.records[i] for i in order]),
        P=np.ascontiguousarray(train.P[order]),
        w=None if w is None else np.ascontiguousarray(w[order]),
        X_val=featurizer.transform(val.records),
        P_val=val.P,
        w_val=wv,
        action_names=tuple(ds.action_names),
        feature_names=tuple(featurizer.feature_names_),
        featurizer=featurizer,
    ), train


def ship(student: Any, data: Any) -> Any:
    """The student to ship: joined to the split's featurizer when the data were records."""
    from hybrid.students.featurized import FeaturizedStudent

    featurizer = getattr(data, "featurizer", None)
    if featurizer is None or isinstance(student, FeaturizedStudent):
        return student
    return FeaturizedStudent.from_parts(featurizer, student, action_names=data.action_names)


def numeric_part(student: Any) -> Any:
    """The student that reads the numeric features (the inner one of a featurized student)."""
    return getattr(student, "student_", student)


def shipped_figures(student: Any, data: Any) -> tuple[Any, dict[str, Any]]:
    """The student to ship (joined to the split's featurizer on records) and its own figures:
    fidelity, KL and confusion of its numeric part on the held-out rows (the featurized held-out
    records, never trained on), cost and content hash of the shipped model as it runs."""
    from auto_search.shipping import held_out_figures, student_confusion

    numeric = numeric_part(student)
    shipped = ship(student, data)
    cost = shipped.cost()
    figures = {
        **held_out_figures(numeric, data),
        "parameters": int(cost.parameters),
        "ops_per_decision": float(cost.ops_per_decision),
        "bytes": int(cost.bytes),
        "content_hash": shipped.content_hash,
        "confusion": student_confusion(numeric, data),
    }
    return shipped, figures


def write_model(student: Any, directory: str | Path) -> dict[str, Path]:
    """Write ``model.json`` and every export the student has (``student.py``; ``student.h``
    where a C export exists) into ``directory``; returns the paths by target."""
    from hybrid import exports

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": student.save(out / "model.json")}
    for target in export_targets(student):
        paths[target] = Path(getattr(exports, f"export_{target}")(student, out / {"python": "student.py", "c": "student.h"}[target]))
    return paths


def export_targets(student: Any) -> tuple[str, ...]:
    """Exports this student supports among Python and C (a featurized student: Python only)."""
    return ("python", "c") if callable(getattr(student, "c_source", None)) else ("python",)


def with_record_families(config: Any, ds: Any) -> Any:
    """On record states, a search over the default families also tries keyword rule lists and
    linear students (recorded in the config, so the report and its hash say so)."""
    from dataclasses import replace

    from auto_search.config import default_families

    if not is_record_dataset(ds) or tuple(config.families) != default_families():
        return config
    return replace(config, families=(*config.families, *RECORD_FAMILIES))
