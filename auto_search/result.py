"""``SearchResult``: what a search found, as one data object that every report is drawn from."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from auto_search.config import SearchConfig
from auto_search.data_files import source_of
from auto_search.evaluate import Candidate
from auto_search.shipping import Shipped

REPORT_SCHEMA_VERSION = 2

_RENAMED = {
    "best": "the chosen candidate's record is result.chosen; the model to deploy is result.student",
    "best_student": "the model to deploy is result.student (it may be a DAgger round of the chosen candidate; see result.shipped)",
    "best_hash": "the shipped model's hash is result.shipped.content_hash",
}


@dataclass
class SearchResult:
    """What a search found: every candidate, the Pareto front, the choice and the student to ship.

    ``chosen`` is the policy's pick (a :class:`Candidate` record, scored on held-out states and,
    with an environment, on selection episodes); ``student`` is the model to deploy and
    ``shipped`` its own figures — the chosen candidate as fitted, or a DAgger round of it that
    still holds the policy's bound, always re-measured (held-out split, confirmation episodes).
    ``chosen`` is ``None`` only when not a single candidate finished. ``reproducible`` is False
    when no rung finished whole (the choice fell back to a partial rung) or the budget cut the
    closed loop. ``stopped_by`` is ``None`` (the plan ran out), ``"budget"`` or ``"interrupted"``.
    """

    config: SearchConfig
    dataset: dict[str, Any]
    teacher: dict[str, Any] | None
    candidates: list[Candidate]
    pareto: list[int]
    chosen: Candidate | None
    choice: str | None
    student: Any
    shipped: Shipped | None
    rungs: list[dict[str, Any]]
    stopped_by: str | None
    reproducible: bool
    started_at: float
    search_s: float
    versions: dict[str, str]
    fit_s: float = 0.0  # of search_s, the part spent fitting candidates (the rest: closed loop, DAgger)
    baseline_fidelity: float = 0.0  # always playing the most common action; only students above it are chosen
    closed_loop: dict[str, Any] | None = None
    policy_note: str | None = None
    cascade: dict[str, Any] | None = None  # threshold and figures of a cascade:… choice (auto_search.cascade)
    data_mix: dict[str, Any] | None = None  # the data-source mix that shipped and those searched (auto_search.mix_search)
    mix_results: list[Any] = field(default_factory=list, repr=False)  # every mix's own search result, in data_mix["searched"] order
    ledger_entries: list[dict[str, Any]] = field(default_factory=list)
    report_dirs: list[Path] = field(default_factory=list)  # written reports, rewritten when the result is recorded

    def __getattr__(self, name: str) -> Any:
        if name in _RENAMED:
            raise AttributeError(f"SearchResult has no attribute {name!r}: {_RENAMED[name]}")
        raise AttributeError(f"SearchResult has no attribute {name!r}")

    @property
    def pareto_candidates(self) -> list[Candidate]:
        by_id = {c.id: c for c in self.candidates}
        return [by_id[i] for i in self.pareto]

    def to_data(self) -> dict[str, Any]:
        """The report as JSON-able data; ``report.json`` is exactly this (see report.schema.json)."""
        chosen, student = self.chosen, self.student
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "config_hash": self.config.config_hash,
            "policy_note": self.policy_note,
            "dataset": self.dataset,
            "teacher": self.teacher,
            "started_at": self.started_at,
            "search_s": self.search_s,
            "fit_s": self.fit_s,
            "stopped_by": self.stopped_by,
            "reproducible": self.reproducible,
            "baseline_fidelity": self.baseline_fidelity,
            "versions": self.versions,
            "rungs": self.rungs,
            "candidates": [c.to_dict() for c in self.candidates],
            "pareto": list(self.pareto),
            "chosen": None if chosen is None else {**chosen.to_dict(), "choice": self.choice},
            "shipped": None
            if self.shipped is None
            else {
                **self.shipped.to_dict(),
                "cost": student.cost().to_dict(),
                "rules_text": student.to_text() if hasattr(student, "to_text") else None,
            },
            "closed_loop": self.closed_loop,
            "cascade": self.cascade,
            **({} if self.data_mix is None else {"data_mix": self.data_mix}),
            "ledger_entries": list(self.ledger_entries),
        }

    def write_report(self, directory: str | Path) -> Path:
        """Write report.json, report.md and a self-contained report.html into ``directory``
        atomically (all three appear together or none); returns the directory. A report written
        before :func:`~auto_search.record.record` is rewritten by it, so it lists the ledger entries."""
        from auto_search.report import write_report

        out = write_report(self.to_data(), Path(directory))
        if out not in self.report_dirs:
            self.report_dirs.append(out)
        return out

    def summary(self) -> str:
        """A few lines for terminals and logs: what ran, what was chosen, what ships."""
        n_ok = sum(c.status == "ok" for c in self.candidates)
        cut = sum(r["status"] == "cut" for r in self.rungs)
        head = f"{n_ok} candidates in {self.search_s:.1f} s, {len(self.pareto)} on the front, {cut} rung(s) cut"
        if not self.choice or self.shipped is None:
            return f"{head}; nothing finished"
        s = self.shipped
        ships = f"ships {s.source}: {s.family}, {s.ops_per_decision:g} ops per decision, held-out fidelity {100 * s.fidelity:.1f}%"
        if s.loop:
            ships += f", retention {100 * s.loop['retention']:.1f}% [{100 * s.loop['retention_low']:.1f}, {100 * s.loop['retention_high']:.1f}] over {s.loop['loop_episodes']} fresh episodes"
        if self.data_mix:
            ships += f"\ndata mix: {self.data_mix['words']}"
        return f"{head}; chose {self.choice}\n{ships}"


def dataset_summary(ds: Any) -> dict[str, Any]:
    """Identity, shape and action kind of the searched dataset (with the fidelity tolerance and
    bounds of continuous actions), for the report header and the ledger."""
    from auto_search.continuous import report_fields

    return {
        "content_hash": ds.content_hash,
        "n_states": len(ds),
        "n_features": int(ds.n_features),
        "n_actions": int(ds.n_actions),
        "action_names": [str(a) for a in ds.action_names],
        "feature_names": None if ds.feature_names is None else [str(f) for f in ds.feature_names],
        "source": source_of(getattr(ds, "meta", {})),
        **report_fields(ds),
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
    for dist in ("agent-distill", "numpy", "scikit-learn", "torch", "joblib", "gymnasium"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    out["platform"] = sys.platform
    return out
