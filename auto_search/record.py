"""Record a search in the provenance ledger: dataset → teacher → search → model → export.

Each entry's subject is the content hash of what it describes and its parents are the subjects
it was made from, so the lineage graph links a shipped file back to the data and the teacher.
All entries are appended in one transaction: the whole lineage lands or none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auto_search.errors import SearchError
from auto_search.result import SearchResult
from provenance.hashing import hash_array, hash_file, hash_json


def teacher_hash(teacher: Any) -> str:
    """Content hash of a teacher: its own ``content_hash`` or, for a torch module, of its weights."""
    own = getattr(teacher, "content_hash", None)
    if own:
        return str(own)
    state = getattr(teacher, "state_dict", None)
    if state is None:
        raise SearchError(f"cannot hash teacher {type(teacher).__name__}: give it a content_hash attribute (a 'sha256:…' string) or pass teacher=None.")
    return hash_json({k: hash_array(v.detach().cpu().numpy()) for k, v in sorted(state().items())})


EXPORT_FILES = {"python": "student.py", "c": "student.h", "onnx": "student.onnx"}


def record(result: SearchResult, ledger: Any, key: Any, *, teacher: Any = None, out_dir: str | Path,
           exports: Sequence[str] = ("python",)) -> list[Any]:
    """Write the chosen student's artifact and its exports (``"python"``, ``"c"``, ``"onnx"``)
    into ``out_dir`` and append the dataset, teacher (when given), search, model and one export
    entry per file; returns the entries.

    The entries are also kept in ``result.ledger_entries`` so the report lists them.
    """
    if result.best_student is None:
        raise SearchError("this search chose no student (nothing finished), so there is no model to record; rerun with a larger budget.")
    unknown = sorted(set(exports) - set(EXPORT_FILES))
    if unknown:
        raise SearchError(f"unknown export target(s) {unknown}; choose from {sorted(EXPORT_FILES)}.")
    from hybrid import exports as targets

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    student, ds = result.best_student, result.dataset
    model_file = student.save(out / "model.json")
    export_files = {}
    for target in dict.fromkeys(exports):  # every file is written before any entry is appended
        path = out / EXPORT_FILES[target]
        getattr(targets, f"export_{target}")(student, path)
        export_files[target] = path

    data_hash = ds["content_hash"]
    items = [{"kind": "dataset", "subject": data_hash, "parents": [],
              "attrs": {k: ds[k] for k in ("n_states", "n_features", "n_actions", "action_names")}}]
    inputs = [data_hash]
    if teacher is not None:
        t_hash = teacher_hash(teacher)
        summary = result.teacher or {}
        items.append({"kind": "teacher", "subject": t_hash, "parents": [],
                      "attrs": {"name": summary.get("name", type(teacher).__name__), "ops_per_decision": summary.get("ops_per_decision")}})
        inputs.append(t_hash)
    cfg = result.config
    search_hash = hash_json({"config_hash": cfg.config_hash, "dataset": data_hash,
                             "candidates": [c.content_hash for c in result.candidates]})
    items.append({"kind": "search", "subject": search_hash, "parents": inputs, "attrs": {
        "config_hash": cfg.config_hash, "config": cfg.to_dict(), "seed": cfg.seed, "versions": result.versions,
        "candidates": len(result.candidates), "stopped_by": result.stopped_by, "reproducible": result.reproducible,
        "choice": result.choice}})
    model_hash = student.content_hash
    items.append({"kind": "model", "subject": model_hash, "parents": [search_hash, data_hash], "attrs": {
        "family": student.family, "artifact": model_file.name, "artifact_hash": hash_file(model_file),
        "candidate": result.best.id, "held_out_fidelity": result.best.fidelity, "cost": student.cost().to_dict(),
        "dagger": (result.closed_loop or {}).get("dagger") is not None}})
    items += [{"kind": "export", "subject": hash_file(path), "parents": [model_hash], "attrs": {"target": target, "file": path.name}}
              for target, path in export_files.items()]
    entries = ledger.append_many(items, key=key)
    result.ledger_entries = [
        {"seq": e.seq, "kind": e.kind, "subject": e.subject, "entry_hash": e.entry_hash, "parents": list(e.parents)} for e in entries
    ]
    return entries
