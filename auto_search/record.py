"""Record a search in the provenance ledger: dataset → teacher → search → model → export.

Each entry's subject is the content hash of what it describes and its parents are the subjects
it was made from, so the lineage graph links a shipped file back to the data and the teacher.
All entries are appended in one transaction: the whole lineage lands or none of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auto_search.errors import SearchError
from auto_search.result import SearchResult
from auto_search.shipping import DAGGER_BETA
from provenance.hashing import hash_array, hash_file, hash_json


def teacher_members(teacher: Any) -> list[Any]:
    """The teachers behind ``teacher``: a mixture's members (``hybrid.mixture_teacher``, of either
    kind of action) or the items of a list of teachers; empty for a single teacher."""
    from hybrid.teachers.mixture import MixtureTeacher

    if isinstance(teacher, (list, tuple)):
        return list(teacher)
    return list(teacher.members) if isinstance(teacher, MixtureTeacher) else []


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


def record(
    result: SearchResult,
    ledger: Any,
    key: Any,
    *,
    teacher: Any = None,
    out_dir: str | Path,
    exports: Sequence[str] = ("python",),
    final_dir: str | Path | None = None,
) -> list[Any]:
    """Write the shipped student's artifact and its exports (``"python"``, ``"c"``, ``"onnx"``)
    into ``out_dir`` and append the dataset, teacher (when given), search, model and one export
    entry per file; returns the entries. ``final_dir`` is where the ledger says the artifact
    lives when ``out_dir`` is a staging folder moved there afterwards (see
    :mod:`auto_search.staging`); by default ``out_dir``.

    Several teachers — a mixture teacher, or a list of the teachers whose decisions the data
    holds — get one teacher entry each, and each is a parent of the dataset and model entries
    (the mixture's own entry names them as parents too), so ``provenance lineage`` shows all.

    The model entry carries the shipped student's own figures (held-out fidelity and KL, cost,
    confirmation retention). When a DAgger round ships, the chosen candidate gets a model entry
    too and the shipped one names it as its parent. The entries are kept in
    ``result.ledger_entries``, and reports already written for this result are rewritten so
    they list them.
    """
    if result.student is None or result.shipped is None or result.chosen is None:
        raise SearchError("this search chose no student (nothing finished), so there is no model to record; rerun with a larger budget.")
    unknown = sorted(set(exports) - set(EXPORT_FILES))
    if unknown:
        raise SearchError(f"unknown export target(s) {unknown}; choose from {sorted(EXPORT_FILES)}.")
    written, export_files = write_artifacts(result, out_dir, exports)
    model_file = Path(out_dir if final_dir is None else final_dir) / written.name  # where the ledger says it lives
    student, shipped, chosen, ds = result.student, result.shipped, result.chosen, result.dataset

    data_hash = ds["content_hash"]
    members = teacher_members(teacher)  # several teachers: each is a parent of the dataset and of the model
    member_hashes = [teacher_hash(m) for m in members]
    items: list[dict[str, Any]] = [
        {
            "kind": "teacher",
            "subject": h,
            "parents": [],
            "attrs": {"name": str(getattr(m, "identity", type(m).__name__)), "ops_per_decision": getattr(m, "ops_per_decision", None)},
        }
        for m, h in zip(members, member_hashes)
    ]
    items.append({"kind": "dataset", "subject": data_hash, "parents": member_hashes, "attrs": _dataset_attrs(result, ledger)})
    inputs = [data_hash]
    if isinstance(teacher, (list, tuple)):
        inputs += member_hashes
    elif teacher is not None:
        t_hash = teacher_hash(teacher)
        summary = result.teacher or {}
        items.append(
            {
                "kind": "teacher",
                "subject": t_hash,
                "parents": member_hashes,
                "attrs": {"name": summary.get("name", type(teacher).__name__), "ops_per_decision": summary.get("ops_per_decision")},
            }
        )
        inputs.append(t_hash)
    cfg = result.config
    search_hash = hash_json({"config_hash": cfg.config_hash, "dataset": data_hash, "candidates": [c.content_hash for c in result.candidates]})
    items.append(
        {
            "kind": "search",
            "subject": search_hash,
            "parents": inputs,
            "attrs": {
                "config_hash": cfg.config_hash,
                "config": cfg.to_dict(),
                "seed": cfg.seed,
                "versions": result.versions,
                "candidates": len(result.candidates),
                "stopped_by": result.stopped_by,
                "reproducible": result.reproducible,
                "choice": result.choice,
            },
        }
    )
    recipe = {
        "family": chosen.family,
        "params": chosen.params,
        "n_train": chosen.n_train,
        "candidate": chosen.id,
        "split": {"val_fraction": cfg.val_fraction, "seed": cfg.seed},
    }
    loop = result.closed_loop or {}
    dagger = loop.get("dagger") or {}
    shipped_round = dagger.get("shipped_round", 0)
    steps = []  # what turned the chosen candidate into the shipped student, replayed by reproduce
    if shipped_round:
        steps.append(
            {
                "step": "dagger",
                "round": shipped_round,
                "env": loop.get("env"),
                "env_by_id": loop.get("env_by_id", False),
                "episodes_per_round": cfg.closed_loop_episodes,
                "training_rows": dagger.get("training_rows", chosen.n_train),  # the rows its rounds started from
                "beta": DAGGER_BETA,
                "seed": cfg.seed,
            }
        )
    model_parents = [search_hash, data_hash, *member_hashes]
    if shipped.parent is not None:  # a DAgger round ships: the chosen candidate is its parent
        items.append(
            {
                "kind": "model",
                "subject": chosen.content_hash,
                "parents": model_parents,
                "attrs": {"family": chosen.family, "role": "chosen candidate", "recipe": recipe, **_figures(chosen.to_dict())},
            }
        )
        model_parents = [chosen.content_hash, *model_parents]
    items.append(
        {
            "kind": "model",
            "subject": student.content_hash,
            "parents": model_parents,
            "attrs": {
                "family": student.family,
                "role": "shipped",
                "source": shipped.source,
                "reason": shipped.reason,
                "artifact": model_file.name,
                "artifact_path": str(model_file),
                "artifact_from_ledger": _from_ledger(model_file, ledger),
                "artifact_hash": hash_file(written),
                "recipe": {**recipe, "steps": steps},
                "dagger_round": shipped_round,
                "env": _env_id(result),
                **_figures(shipped.to_dict()),
                "cost": student.cost().to_dict(),
                "loop": shipped.loop,
            },
        }
    )
    items += [
        {"kind": "export", "subject": hash_file(path), "parents": [student.content_hash], "attrs": {"target": target, "file": path.name}}
        for target, path in export_files.items()
    ]
    entries = _append_new(ledger, items, key)
    result.recording.ledger_entries = [
        {"seq": e.seq, "kind": e.kind, "subject": e.subject, "entry_hash": e.entry_hash, "parents": list(e.parents)} for e in entries
    ]
    for directory in result.report_dirs:  # a report written before recording now lists the entries
        result.write_report(directory)
    return entries


def _append_new(ledger: Any, items: list[dict[str, Any]], key: Any) -> list[Any]:
    """Append the items the ledger does not already hold, in one transaction; returns the entry
    of every item, earlier ones included. An item is already held when an entry of the same kind
    has its subject and parents: a rerun of the same job records nothing twice."""
    held: dict[tuple[str, str, tuple[str, ...]], Any] = {}
    for item in items:
        for e in ledger.find(item["subject"]):
            held.setdefault((e.kind, e.subject, tuple(e.parents)), e)
    fresh = [i for i in items if (i["kind"], i["subject"], tuple(i["parents"])) not in held]
    appended = iter(ledger.append_many(fresh, key=key))
    return [held.get((i["kind"], i["subject"], tuple(i["parents"]))) or next(appended) for i in items]


def write_artifacts(result: SearchResult, out_dir: str | Path, exports: Sequence[str] = ("python",)) -> tuple[Path, dict[str, Path]]:
    """Write the shipped student's canonical artifact (``model.json``) and its exports into
    ``out_dir``; returns the artifact's path and the export paths by target."""
    if result.student is None:
        raise SearchError("this search chose no student (nothing finished), so there is no model to write; rerun with a larger budget.")
    from hybrid import exports as targets

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_file = result.student.save(out / "model.json")
    export_files = {}
    for target in dict.fromkeys(exports):  # every file is written before any entry is appended
        path = out / EXPORT_FILES[target]
        getattr(targets, f"export_{target}")(result.student, path)
        export_files[target] = path
    return model_file, export_files


def _from_ledger(path: str | Path, ledger: Any) -> str | None:
    """``path`` relative to the ledger's folder, so a moved or cloned run folder still finds it."""
    where = getattr(ledger, "path", None)
    return None if where is None else os.path.relpath(Path(path).resolve(), Path(where).resolve().parent)


def _beside_ledger(source: dict[str, Any] | None, ledger: Any) -> dict[str, Any] | None:
    return None if source is None else {**source, "from_ledger": _from_ledger(source["path"], ledger)}


def _dataset_attrs(result: SearchResult, ledger: Any) -> dict[str, Any]:
    ds = result.dataset
    attrs = {**{k: ds[k] for k in ("n_states", "n_features", "n_actions", "action_names")}, "source": _beside_ledger(ds.get("source"), ledger)}
    if result.data_mix:  # the source shares the shipped student learned from (auto_search.mix_search)
        attrs["data_mix"] = result.data_mix["shipped"]
    return attrs


def _figures(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "held_out_fidelity": d["fidelity"],
        "held_out_kl": d["kl"],
        "ops_per_decision": d["ops_per_decision"],
        "parameters": d["parameters"],
        "bytes": d["bytes"],
    }


def _env_id(result: SearchResult) -> str | None:
    loop = result.closed_loop or {}
    return loop.get("env")
