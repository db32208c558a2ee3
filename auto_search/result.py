"""``SearchResult``: what a search found, as one data object that every report is drawn from."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from auto_search.config import SearchConfig
from auto_search.evaluate import Candidate

REPORT_SCHEMA_VERSION = 1


@dataclass
class SearchResult:
    """Candidates (every fit, in plan order), the Pareto front and the chosen student.

    ``best`` is ``None`` only when not a single candidate finished. ``reproducible`` is False
    when no rung finished whole and the choice fell back to a partial rung. ``stopped_by`` is
    ``None`` (the plan ran out), ``"budget"`` or ``"interrupted"`` (Ctrl-C).
    """

    config: SearchConfig
    dataset: dict[str, Any]
    teacher: dict[str, Any] | None
    candidates: list[Candidate]
    pareto: list[int]
    best: Candidate | None
    choice: str | None
    best_student: Any
    rungs: list[dict[str, Any]]
    stopped_by: str | None
    reproducible: bool
    started_at: float
    search_s: float
    versions: dict[str, str]
    baseline_fidelity: float = 0.0  # always playing the most common action; only students above it are chosen
    confusion: list[list[int]] | None = None
    closed_loop: dict[str, Any] | None = None
    cascade: dict[str, Any] | None = None  # threshold and figures of a cascade:… choice (auto_search.cascade)
    ledger_entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pareto_candidates(self) -> list[Candidate]:
        by_id = {c.id: c for c in self.candidates}
        return [by_id[i] for i in self.pareto]

    @property
    def best_hash(self) -> str | None:
        """Identity of the student to ship (after DAgger, if it ran)."""
        return None if self.best_student is None else self.best_student.content_hash

    def to_data(self) -> dict[str, Any]:
        """The report as JSON-able data; ``report.json`` is exactly this (see report.schema.json)."""
        student = self.best_student
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "config_hash": self.config.config_hash,
            "dataset": self.dataset,
            "teacher": self.teacher,
            "started_at": self.started_at,
            "search_s": self.search_s,
            "stopped_by": self.stopped_by,
            "reproducible": self.reproducible,
            "baseline_fidelity": self.baseline_fidelity,
            "versions": self.versions,
            "rungs": self.rungs,
            "candidates": [c.to_dict() for c in self.candidates],
            "pareto": list(self.pareto),
            "best": None if self.best is None else {
                "candidate": self.best.id,
                "family": self.best.family,
                "choice": self.choice,
                "content_hash": self.best_hash,
                "cost": student.cost().to_dict(),
                "rules_text": student.to_text() if hasattr(student, "to_text") else None,
                "confusion": self.confusion,
            },
            "closed_loop": self.closed_loop,
            "cascade": self.cascade,
            "ledger_entries": list(self.ledger_entries),
        }

    def write_report(self, directory: str | Path) -> Path:
        """Write report.json, report.md and a self-contained report.html into ``directory``
        atomically (all three appear together or none); returns the directory."""
        from auto_search.report import write_report

        return write_report(self.to_data(), Path(directory))

    def summary(self) -> str:
        """One line for terminals and logs."""
        n_ok = sum(c.status == "ok" for c in self.candidates)
        cut = sum(r["status"] == "cut" for r in self.rungs)
        head = f"{n_ok} candidates in {self.search_s:.1f} s, {len(self.pareto)} on the front, {cut} rung(s) cut"
        return f"{head}; chose {self.choice}" if self.choice else f"{head}; nothing finished"


def dataset_summary(ds: Any) -> dict[str, Any]:
    """Identity and shape of the searched dataset, for the report header and the ledger."""
    return {
        "content_hash": ds.content_hash,
        "n_states": int(len(ds)),
        "n_features": int(ds.n_features),
        "n_actions": int(ds.n_actions),
        "action_names": [str(a) for a in ds.action_names],
        "feature_names": None if ds.feature_names is None else [str(f) for f in ds.feature_names],
    }


def teacher_summary(teacher: Any) -> dict[str, Any] | None:
    """Name, cost and (when it has one) content hash of the teacher; ``None`` without a teacher."""
    if teacher is None:
        return None
    ops = getattr(teacher, "ops_per_decision", None)
    ops = ops() if callable(ops) else ops
    return {
        "name": str(getattr(teacher, "name", None) or getattr(teacher, "env_id", None) or type(teacher).__name__),
        "ops_per_decision": None if ops is None else float(ops),
        "content_hash": getattr(teacher, "content_hash", None),
    }


def library_versions() -> dict[str, str]:
    """Versions that can change a search's outcome, recorded with it."""
    out = {"python": platform.python_version()}
    for dist in ("agent-distill", "numpy", "scikit-learn", "torch", "joblib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    out["platform"] = sys.platform
    return out
