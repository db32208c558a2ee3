"""``SearchResult``: what a search found, as one frozen data object that every report is drawn from."""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from auto_search.closed_loop import claim_verdict
from auto_search.config import SearchConfig
from auto_search.data_files import source_of
from auto_search.evaluate import Candidate
from auto_search.report import write_report
from auto_search.shipping import Shipped
from hybrid.spaces import action_space_of

REPORT_SCHEMA_VERSION = 2
"""Version of ``report.json``'s schema; raised when a field changes meaning or is removed."""

_RENAMED = {
    "best": "the chosen candidate's record is result.chosen; the model to deploy is result.student",
    "best_student": "the model to deploy is result.student (it may be a DAgger round of the chosen candidate; see result.shipped)",
    "best_hash": "the shipped model's hash is result.shipped.content_hash",
}

# names a SearchResult answered before its fields were grouped: still readable, from their new place
_MOVED = {
    **{name: "run" for name in ("rungs", "stopped_by", "reproducible", "started_at", "search_s", "fit_s", "versions", "baseline_fidelity", "policy_note")},
    **{name: "sections" for name in ("closed_loop", "cascade", "data_mix", "mix_results")},
    **{name: "recording" for name in ("ledger_entries", "report_dirs")},
}

SECTION_KEYS = ("closed_loop", "cascade", "data_mix")  # the sections report.json holds (mix_results stays in memory)


@dataclass(frozen=True)
class SearchRun:
    """How the search went: its rungs (complete or cut), what stopped it (``None``: the plan ran
    out, ``"budget"`` or ``"interrupted"``), whether the choice can be repeated (False when no
    rung finished whole or the budget cut the closed loop), when it started and how long it took
    (``fit_s`` of ``search_s`` fitting candidates; the rest went to the closed loop and DAgger),
    the library versions it ran on, the fidelity a student had to beat to be chosen (always
    playing one action: ``ActionSpace.constant_fidelity``), and what ``policy="auto"`` resolved to."""

    rungs: Sequence[dict[str, Any]]
    stopped_by: str | None
    reproducible: bool
    started_at: float
    search_s: float
    fit_s: float
    versions: dict[str, str]
    baseline_fidelity: float
    policy_note: str | None = None


@dataclass
class Recording:
    """What became of a result after its search: the report folders written from it and the
    ledger entries :func:`auto_search.record.record` appended. The one part of a result that
    changes afterwards, on purpose: a report written before ``record`` is rewritten with the
    entries. :meth:`SearchResult.with_recording` gives a copy with a recording of its own."""

    ledger_entries: list[dict[str, Any]] = field(default_factory=list)
    report_dirs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """What a search found: every candidate, the Pareto front, the choice and the student to ship.

    ``chosen`` is the policy's pick (a :class:`Candidate` record, scored on held-out states and,
    with an environment, on selection episodes) and ``choice`` says why; ``student`` is the model
    to deploy and ``shipped`` its own figures — the chosen candidate as fitted, or a DAgger round
    of it that still holds the policy's bound, always re-measured (held-out split, confirmation
    episodes). ``chosen`` is ``None`` only when not a single candidate finished. ``run`` says how
    the search went (:class:`SearchRun`); ``sections`` holds what a part of the search adds:
    ``closed_loop`` (selection, confirmation and DAgger figures in the environment), ``cascade``
    (a ``cascade:…`` choice's threshold and figures), ``data_mix`` (the mix of data sources that
    shipped and every mix searched) with ``mix_results`` (every mix's own result).

    Names of the earlier, flat result (``stopped_by``, ``closed_loop``, ``ledger_entries``, …)
    still read from their new place.
    """

    config: SearchConfig
    dataset: dict[str, Any]
    teacher: dict[str, Any] | None
    candidates: Sequence[Candidate]
    pareto: Sequence[int]
    chosen: Candidate | None
    choice: str | None
    student: Any
    shipped: Shipped | None
    run: SearchRun
    sections: Mapping[str, Any] = field(default_factory=dict)
    recording: Recording = field(default_factory=Recording, compare=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        if name in _MOVED:
            owner = object.__getattribute__(self, _MOVED[name])
            return owner.get(name, () if name == "mix_results" else None) if isinstance(owner, Mapping) else getattr(owner, name)
        if name in _RENAMED:
            raise AttributeError(f"SearchResult has no attribute {name!r}: {_RENAMED[name]}")
        raise AttributeError(f"SearchResult has no attribute {name!r}")

    @property
    def pareto_candidates(self) -> list[Candidate]:
        by_id = {c.id: c for c in self.candidates}
        return [by_id[i] for i in self.pareto]

    def with_sections(self, **sections: Any) -> SearchResult:
        """A copy with these sections added (or replaced), and a recording of its own."""
        return replace(self, sections={**self.sections, **sections}, recording=Recording())

    def with_recording(self, recording: Recording | None = None) -> SearchResult:
        """A copy whose reports and ledger entries are tracked apart from this one's (a fresh,
        empty recording unless one is given)."""
        return replace(self, recording=Recording() if recording is None else recording)

    def to_data(self) -> dict[str, Any]:
        """The report as JSON-able data; ``report.json`` is exactly this (see report.schema.json)."""
        chosen, student, run = self.chosen, self.student, self.run
        data_mix = self.sections.get("data_mix")
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "config_hash": self.config.config_hash,
            "policy_note": run.policy_note,
            "dataset": self.dataset,
            "teacher": self.teacher,
            "started_at": run.started_at,
            "search_s": run.search_s,
            "fit_s": run.fit_s,
            "stopped_by": run.stopped_by,
            "reproducible": run.reproducible,
            "baseline_fidelity": run.baseline_fidelity,
            "versions": run.versions,
            "rungs": list(run.rungs),
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
            "closed_loop": self.sections.get("closed_loop"),
            "cascade": self.sections.get("cascade"),
            **({} if data_mix is None else {"data_mix": data_mix}),
            "ledger_entries": list(self.recording.ledger_entries),
        }

    def write_report(self, directory: str | Path) -> Path:
        """Write report.json, report.md and a self-contained report.html into ``directory``
        atomically (all three appear together or none); returns the directory. A report written
        before :func:`~auto_search.record.record` is rewritten by it, so it lists the ledger entries."""
        out = write_report(self.to_data(), Path(directory))
        if out not in self.recording.report_dirs:
            self.recording.report_dirs.append(out)
        return out

    def plot_pareto(self, path: str | Path | None = None) -> Any:
        """The report's Pareto front as a matplotlib figure (saved to ``path`` when given, e.g.
        ``"front.png"``): fidelity against operations per decision, the chosen student circled."""
        from auto_search.report import pareto_figure

        fig, _ = pareto_figure(self.to_data())
        if path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return fig

    def summary(self) -> str:
        """A few lines for terminals and logs: what ran, what was chosen, what ships."""
        n_ok = sum(c.status == "ok" for c in self.candidates)
        unfit = sum(r["candidates"] - r["finished"] for r in self.run.rungs if r["status"] == "cut")
        stopped = f"; the budget stopped it before {unfit} more planned fit(s)" if unfit else ""
        head = f"{n_ok} students fitted in {self.run.search_s:.1f} s, {len(self.pareto)} on the accuracy/cost front{stopped}"
        if not self.choice or self.shipped is None:
            return f"{head}; nothing finished"
        s = self.shipped
        ships = f"ships {s.source}: {s.family}, {s.ops_per_decision:g} ops per decision, held-out fidelity {100 * s.fidelity:.1f}%"
        if s.loop:
            ships += f", retention {100 * s.loop['retention']:.1f}% [{100 * s.loop['retention_low']:.1f}, {100 * s.loop['retention_high']:.1f}] over {s.loop['loop_episodes']} fresh episodes"
        data_mix = self.sections.get("data_mix")
        if data_mix:
            ships += f"\ndata mix: {data_mix['words']}"
        verdict = self.verdict()
        return f"{head}; chose {self.choice}\n{ships}" + (f"\n{verdict}" if verdict else "")

    def verdict(self) -> str | None:
        """One line on the declared bound: retention (``MET`` or ``MISSED`` with the confirmed
        figure, its episodes and method) or a cascade's agreement on the requests it decides;
        ``None`` when no bound was declared."""
        claim = None if self.shipped is None else self.shipped.claim
        if claim:
            return claim_verdict(claim)
        cascade = self.sections.get("cascade")
        if cascade:  # a cascade's bound: agreement on the requests it decides, on the report half
            held = cascade["held_out"]
            agree = "n/a" if held["agreement_decided"] is None else f"{100 * held['agreement_decided']:.2f}%"
            return (
                f"{'MET' if cascade['met'] else 'MISSED'} agreement ≥ {100 * cascade['agreement_at_least']:g}% on decided requests: "
                f"{agree} on the {100 * held['coverage']:.1f}% of {held['n']} report-half requests it decides"
            )
        return None


def dataset_summary(ds: Any) -> dict[str, Any]:
    """Identity, shape and action space of the searched dataset (with the fidelity tolerance and
    bounds of a Box; ``None`` for discrete actions), for the report header and the ledger."""
    space = action_space_of(ds).to_dict()
    sampled = {"sampled_from": ds.meta["sampled_from"]} if "sampled_from" in getattr(ds, "meta", {}) else {}
    return {
        **sampled,
        "content_hash": ds.content_hash,
        "n_states": len(ds),
        "n_features": int(ds.n_features),
        "n_actions": int(ds.n_actions),
        "action_names": [str(a) for a in ds.action_names],
        "feature_names": None if ds.feature_names is None else [str(f) for f in ds.feature_names],
        "source": source_of(getattr(ds, "meta", {})),
        "action_kind": space["kind"],
        "fidelity_tolerance": space.get("tolerance"),
        "action_low": space.get("low"),
        "action_high": space.get("high"),
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
