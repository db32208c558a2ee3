"""Re-execute a recorded model's lineage and compare hashes: ``agent-distill reproduce``.

The ledger proves nothing changed since a model was recorded; this proves the recorded data and
settings really make that model. It verifies the ledger against trusted keys, reads the model
entry's recipe (family, hyperparameters, training rows, split seed, and the steps after the
search such as a DAgger round) and its search entry's configuration, loads the dataset from the
recorded path (or one the caller gives) and checks its content hash, refits the student through
the search's own code and compares model hashes. With ``search=True`` it re-runs the whole
recorded search and checks it fits the same candidates and ships the same student.

Anything that keeps the model from being reproduced is a *finding* (exit 1): a ledger that does
not verify, data whose hash differs, a refit whose artifact differs (the differing fields are
named), library versions other than those recorded. Input that cannot be used (no such ledger
or model, no data file, no teacher for a closed-loop step) raises :class:`ReproduceError`
(exit 2). What cannot be promised bit for bit — a closed-loop step on another platform — is a
*note*, never hidden.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auto_search.config import SearchConfig
from auto_search.data_files import load_dataset
from auto_search.errors import SearchConfigError, SearchError
from auto_search.evaluate import evaluate_spec, rebuild, shipped_form, split_dataset
from auto_search.policies import parse_policy
from auto_search.record import teacher_hash
from auto_search.result import library_versions
from auto_search.search import AutoDistill
from auto_search.shipping import DAGGER_BETA, dagger_stream, loop_teacher, viper_weighted
from auto_search.space import Spec
from provenance.errors import ProvenanceError
from provenance.hashing import hash_file
from provenance.ledger import Ledger
from provenance.verify import verify_ledger


class ReproduceError(SearchError):
    """The reproduction cannot start: a missing ledger, model, data file, teacher or environment."""


@dataclass(frozen=True)
class Reproduction:
    """What ``reproduce`` found. ``ok``: the refit hash equals the recorded one and nothing else
    (ledger, data, versions, a re-run search) was found wrong."""

    model_hash: str
    refit_hash: str | None
    findings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()  # what was re-executed, in order
    versions: dict[str, dict[str, str | None]] = field(default_factory=dict)  # library: recorded / installed, where they differ
    rounding: float | None = None  # the refit differs only in numbers, by at most this relative amount (floating-point rounding)

    @property
    def ok(self) -> bool:
        return not self.findings and (self.refit_hash == self.model_hash or self.rounding is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **{k: getattr(self, k) for k in self.__dataclass_fields__}}

    def summary(self) -> str:
        if not self.ok:
            head = f"did NOT reproduce {self.model_hash}"
        elif self.refit_hash == self.model_hash:
            head = f"reproduced {self.model_hash} bit for bit"
        else:
            head = (
                f"reproduced {self.model_hash} up to floating-point rounding: the refit ({self.refit_hash}) has the same structure "
                f"and differs in numbers by at most {self.rounding:.1e} (relative)"
            )
        lines = [head, *(f"  step: {s}" for s in self.steps), *(f"  problem: {f}" for f in self.findings), *(f"  note: {n}" for n in self.notes)]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Lineage:
    model: Any
    search: Any
    dataset: Any
    teacher: Any | None


def reproduce(
    ledger: str | Path,
    model_hash: str,
    *,
    trusted_keys: Sequence[Any],
    data: str | Path | None = None,
    teacher: Any = None,
    env: Any = None,
    search: bool = False,
    allow_version_drift: bool = False,
    exact: bool = False,
) -> Reproduction:
    """Refit the model ``model_hash`` (a ``sha256:…`` hash or a unique prefix) recorded in
    ``ledger`` and compare hashes.

    ``trusted_keys``: public keys the ledger must verify with (as for ``provenance verify``).
    ``data``: the dataset file when it is not at the recorded path. ``teacher`` / ``env``: for a
    closed-loop step, when the recorded teacher is not in the zoo or the environment was an
    object. ``search``: re-run the whole recorded search too. ``allow_version_drift``: accept a
    match under library versions other than the recorded ones (they are still listed).
    ``exact``: require the same bits; by default a refit of the same structure whose numbers
    differ only by floating-point rounding (another CPU's arithmetic) reproduces, and says so.
    """
    path = Path(ledger)
    if not path.is_file():
        raise ReproduceError(f"no ledger at {path}; pass the ledger the model was recorded in.")
    try:
        verified = verify_ledger(path, list(trusted_keys))
    except ProvenanceError as e:
        raise ReproduceError(str(e)) from e
    lineage = _read_lineage(path, model_hash)
    model_hash = lineage.model.subject
    if not verified.ok:  # the recipe itself cannot be trusted: stop before refitting anything
        return Reproduction(model_hash, None, tuple(f"the ledger does not verify: {f}" for f in verified.findings))
    if model_hash in verified.revoked:
        return Reproduction(model_hash, None, (f"the model was revoked (entry {verified.revoked[model_hash]}); a revoked model is not reproduced",))
    return _Replay(lineage, path.resolve().parent, data=data, teacher=teacher, env=env, allow_version_drift=allow_version_drift, exact=exact).run(search=search)


def _read_lineage(path: Path, model_hash: str) -> _Lineage:
    with Ledger(path, create=False) as ledger:
        entries = ledger.entries()
    models = [e for e in entries if e.kind == "model" and e.subject.startswith(model_hash) and "recipe" in e.attrs]
    if len({e.subject for e in models}) != 1:
        what = "no model entry" if not models else f"{len({e.subject for e in models})} model entries"
        raise ReproduceError(f"{what} with a recipe match {model_hash!r} in {path}; list the models with `provenance log {path} --kind model`.")
    model = models[-1]
    by_subject = {e.subject: e for e in entries}
    searches = [by_subject[p] for p in model.parents if p in by_subject and by_subject[p].kind == "search"]
    datasets = [by_subject[p] for p in model.parents if p in by_subject and by_subject[p].kind == "dataset"]
    if not searches or not datasets:
        raise ReproduceError(f"model {model.subject} has no search or dataset parent in {path}; it was not recorded by auto_search.record().")
    search = searches[0]
    teachers = [by_subject[p] for p in search.parents if p in by_subject and by_subject[p].kind == "teacher"]
    return _Lineage(model, search, datasets[0], teachers[0] if teachers else None)


class _Replay:
    """One reproduction: gathers findings while it re-executes the lineage."""

    def __init__(
        self, lineage: _Lineage, ledger_dir: Path, *, data: str | Path | None, teacher: Any, env: Any, allow_version_drift: bool, exact: bool = False
    ) -> None:
        self.exact = exact
        self.rounding: float | None = None
        self.lineage, self.ledger_dir, self.data_path, self.teacher, self.env = lineage, ledger_dir, data, teacher, env
        self.allow_version_drift = allow_version_drift
        self.findings: list[str] = []
        self.notes: list[str] = []
        self.steps: list[str] = []

    def run(self, *, search: bool) -> Reproduction:
        model = self.lineage.model
        recorded, installed = self.lineage.search.attrs.get("versions") or {}, library_versions()
        drift = {
            k: {"recorded": recorded.get(k), "installed": installed.get(k)}
            for k in sorted(set(recorded) | set(installed))
            if recorded.get(k) != installed.get(k)
        }
        config = self._config()
        dataset = self._dataset(config)
        refit = None
        if dataset is not None:
            student = self._refit(config, dataset)
            refit = None if student is None else student.content_hash
            if refit is not None and refit != model.subject:
                self.rounding = None if self.exact else self._rounding(student)
                if self.rounding is None:
                    self.findings.append(f"the refit model hashes to {refit}, not {model.subject}: {self._artifact_difference(student)}")
                else:
                    self.notes.append(
                        f"the refit differs from the recorded artifact only by floating-point rounding (at most {self.rounding:.1e} relative; "
                        "a teacher's or student's arithmetic rounds differently on another CPU); pass --exact to require the same bits"
                    )
            if search:
                self._rerun_search(config, dataset)
        if drift:
            words = ", ".join(f"{k} {d['installed']} (recorded {d['recorded']})" for k, d in sorted(drift.items()))
            if self.allow_version_drift:
                self.notes.append(f"library versions differ from those recorded: {words}")
            else:
                cause = "which may explain the difference" if refit != model.subject else "the match holds under other versions than recorded"
                self.findings.append(
                    f"library versions differ from those recorded: {words}; {cause} (pass --allow-version-drift to accept a match under other versions)"
                )
        return Reproduction(model.subject, refit, tuple(self.findings), tuple(self.notes), tuple(self.steps), drift, self.rounding)

    def _config(self) -> Any:
        attrs = self.lineage.search.attrs
        try:
            config = SearchConfig(**attrs["config"])
        except (KeyError, TypeError, SearchConfigError) as e:
            raise ReproduceError(f"the search entry's configuration cannot be read ({e}); was it recorded by this version of agent-distill?") from e
        if config.config_hash != attrs.get("config_hash"):
            self.findings.append(f"the recorded configuration hashes to {config.config_hash}, not the recorded config_hash {attrs.get('config_hash')}")
        return config

    def _dataset(self, config: Any) -> Any:
        entry = self.lineage.dataset
        source = entry.attrs.get("source") or {}
        path = self.data_path or _located(source.get("path"), source.get("from_ledger"), self.ledger_dir)
        if path is None:
            raise ReproduceError(f"the dataset {entry.subject} was built in memory, so no path was recorded; pass its file (--data PATH).")
        runs = source.get("runs") if self.data_path is None else None
        try:
            ds = load_dataset(path, runs, max_rows=config.max_rows, seed=config.seed)  # the rows the search sampled, if it did
        except FileNotFoundError as e:
            raise ReproduceError(f"the dataset {entry.subject} is not at {path} ({e}); pass where it is now (--data PATH).") from e
        self.steps.append(f"read the dataset from {path}" + (f" (runs {runs})" if runs else ""))
        if ds.content_hash != entry.subject:
            n = entry.attrs.get("n_states")
            self.findings.append(
                f"the dataset at {path} hashes to {ds.content_hash}, not the recorded {entry.subject} "
                f"({len(ds)} states now, {n} recorded): the data changed since the search, so the model cannot be re-derived from it"
            )
            return None
        return ds

    def _refit(self, config: Any, dataset: Any) -> Any:
        recipe = self.lineage.model.attrs["recipe"]
        data, _ = split_dataset(dataset, config.val_fraction, config.seed)
        if config.weighting:
            env = self.env if self.env is not None else self.lineage.model.attrs.get("env")
            data = viper_weighted(data, config, loop_teacher(self._teacher(), env, data))
        spec = Spec(int(recipe.get("candidate", 0)), 0, 0, recipe["family"], dict(recipe["params"]), int(recipe["n_train"]))
        candidate, artifact = evaluate_spec(spec, data)
        if candidate.status != "ok" or artifact is None:
            self.findings.append(f"refitting {spec.family} {spec.params} failed: {candidate.error}")
            return None
        self.steps.append(f"refit {spec.family} {json.dumps(spec.params, sort_keys=True)} on {spec.n_train} training states (split seed {config.seed})")
        student = rebuild(candidate, artifact)
        for step in recipe.get("steps", []):
            if step.get("step") != "dagger":
                raise ReproduceError(f"this version cannot replay a {step.get('step')!r} step; upgrade agent-distill.")
            student = self._dagger(step, student, spec.n_train, data, config)
        if str(config.policy).startswith("cascade:"):  # the deferring wrapper's threshold is re-chosen on the same calibration rows
            chooser: Any = parse_policy(config.policy)
            return chooser.choose([candidate], {candidate.id: artifact}, data, seed=config.seed)[2]
        return shipped_form(student, data)

    def _dagger(self, step: dict[str, Any], student: Any, n_train: int, data: Any, config: Any) -> Any:
        if step.get("beta", DAGGER_BETA) != DAGGER_BETA or step.get("episodes_per_round") != config.closed_loop_episodes:
            raise ReproduceError(f"the recorded DAgger step {step} was made with other settings than this version replays; upgrade agent-distill.")
        env = self.env if self.env is not None else step.get("env")
        if self.env is None and not step.get("env_by_id"):
            raise ReproduceError(
                f"the search ran in an environment object ({step.get('env')!r} with wrappers or noise); pass env=… to replay its DAgger rounds."
            )
        teacher = loop_teacher(self._teacher(), env, data)
        rows = int(step.get("training_rows", n_train))  # recorded since rounds start from every training row; before, the chosen's own
        stream = dagger_stream(student, rows, data=data, config=replace(config, dagger_iterations=int(step["round"])), env=env, teacher=teacher)
        fitted = next(student_i for i, _beta, student_i, _aggregate in stream if i == step["round"])
        stream.close()
        self.steps.append(f"replayed DAgger round {step['round']} in {step.get('env')} ({config.closed_loop_episodes} episodes a round, seed {config.seed})")
        recorded = self.lineage.search.attrs.get("versions", {}).get("platform")
        self.notes.append(
            "the DAgger step ran the environment: it reproduces bit for bit on the same platform and library versions"
            + ("" if recorded in (None, sys.platform) else f"; this one is {sys.platform}, the search ran on {recorded}")
        )
        return fitted

    def _teacher(self) -> Any:
        entry = self.lineage.teacher
        if entry is None:
            raise ReproduceError("the model's closed-loop step needs a teacher but none was recorded with the search.")
        if self.teacher is not None:
            if teacher_hash(self.teacher) != entry.subject:
                raise ReproduceError(f"the teacher given hashes to {teacher_hash(self.teacher)}, but the search used {entry.subject}; pass that teacher.")
            return self.teacher
        from hybrid.teachers.zoo import available_teachers, load_teacher

        name = str(entry.attrs.get("name"))
        zoo_id = name.split(":")[0]  # zoo teachers are named "<zoo id>:<class>"
        known = available_teachers()
        # the committed teacher with the recorded hash, whatever its name says; else the named one, to say its weights changed
        for candidate in [zoo_id, *known] if zoo_id in known else known:
            teacher = load_teacher(candidate)
            if teacher_hash(teacher) == entry.subject:
                self.teacher = teacher
                return teacher
        if zoo_id in known:
            self.findings.append(
                f"the zoo's teacher {zoo_id} hashes to {teacher_hash(load_teacher(zoo_id))}, not the recorded {entry.subject}: its weights changed"
            )
            self.teacher = load_teacher(zoo_id)
            return self.teacher
        raise ReproduceError(f"the recorded teacher {name!r} ({entry.subject}) is not in the committed zoo; pass it (teacher=… in Python).")

    def _rerun_search(self, config: Any, dataset: Any) -> None:
        loop = self.lineage.model.attrs.get("env")
        env = self.env if self.env is not None else loop
        teacher = self._teacher() if env is not None else None
        result = AutoDistill.from_config(replace(config, verbose=0), env=env, teacher=teacher).fit(dataset)
        self.steps.append(f"re-ran the search ({len(result.candidates)} candidates, config {result.config.config_hash[:19]}…)")
        attrs = self.lineage.search.attrs
        if not attrs.get("reproducible", True):
            self.notes.append("the recorded search was cut by its budget (reproducible: false), so a re-run may fit other candidates")
        if result.config.config_hash != attrs.get("config_hash"):
            self.findings.append(f"the re-run search's configuration hashes to {result.config.config_hash}, not {attrs.get('config_hash')}")
        if len(result.candidates) != attrs.get("candidates"):
            self.findings.append(f"the re-run search fitted {len(result.candidates)} candidates, the recorded one {attrs.get('candidates')}")
        shipped = None if result.student is None else result.student.content_hash
        if shipped != self.lineage.model.subject and self.lineage.model.attrs.get("role") == "shipped":
            self.findings.append(f"the re-run search ships {shipped}, not {self.lineage.model.subject} (its choice: {result.choice})")

    def _recorded_artifact(self) -> Any:
        """The recorded artifact as JSON, when its file is at hand and unchanged; else None."""
        attrs = self.lineage.model.attrs
        path = Path(_located(attrs.get("artifact_path"), attrs.get("artifact_from_ledger"), self.ledger_dir) or "")
        if not path.is_file() or hash_file(path) != attrs.get("artifact_hash"):
            return None
        return json.loads(path.read_text())

    def _rounding(self, student: Any) -> float | None:
        """The largest relative difference between the recorded artifact and the refit when they
        differ only in numbers, each by at most ``ROUNDING`` relative; else None."""
        recorded = self._recorded_artifact()
        return None if recorded is None else _rounding_only(recorded, student.to_dict())

    def _artifact_difference(self, student: Any) -> str:
        recorded = self._recorded_artifact()
        if recorded is None:
            return "the recorded artifact is not at hand to compare fields (pass the run folder as it was recorded)"
        differences = _diff(recorded, student.to_dict())
        shown = "; ".join(differences[:8]) + (f"; … {len(differences) - 8} more" if len(differences) > 8 else "")
        return f"{len(differences)} field(s) of the artifact differ: {shown}"


def _located(as_recorded: str | None, from_ledger: str | None, ledger_dir: Path) -> str | None:
    """A recorded path as given at record time if it exists from here, else the same file found
    beside the ledger (a run folder that moved or was cloned elsewhere)."""
    if as_recorded is not None and Path(as_recorded).exists():
        return as_recorded
    if from_ledger is not None and (ledger_dir / from_ledger).exists():
        return str(ledger_dir / from_ledger)
    return as_recorded


def _diff(recorded: Any, refit: Any, where: str = "") -> list[str]:
    """Paths at which two canonical artifacts differ, with both values (short)."""
    if isinstance(recorded, dict) and isinstance(refit, dict):
        out = []
        for k in sorted(set(recorded) | set(refit), key=str):
            if k not in refit or k not in recorded:
                out.append(f"{where}{k}: {'only recorded' if k in recorded else 'only in the refit'}")
            else:
                out += _diff(recorded[k], refit[k], f"{where}{k}.")
        return out
    if isinstance(recorded, list) and isinstance(refit, list) and len(recorded) == len(refit):
        return [d for i, (a, b) in enumerate(zip(recorded, refit, strict=True)) for d in _diff(a, b, f"{where}[{i}].")]
    if recorded != refit:
        return [f"{where.rstrip('.')}: recorded {_short(recorded)}, refit {_short(refit)}"]
    return []


ROUNDING = 1e-3  # relative: float32 rounding (6e-8) as least-squares leaves amplify it (seen: 1.2e-4), far below what other data would change


def _rounding_only(recorded: Any, refit: Any) -> float | None:
    """The largest relative difference of numbers at the same place in two artifacts of the same
    structure, or None when anything else differs or a number differs by more than ``ROUNDING``."""
    if isinstance(recorded, dict) and isinstance(refit, dict):
        if set(recorded) != set(refit):
            return None
        parts = [_rounding_only(recorded[k], refit[k]) for k in recorded]
    elif isinstance(recorded, list) and isinstance(refit, list):
        if len(recorded) != len(refit):
            return None
        parts = [_rounding_only(a, b) for a, b in zip(recorded, refit, strict=True)]
    elif isinstance(recorded, float | int) and isinstance(refit, float | int) and not isinstance(recorded, bool) and not isinstance(refit, bool):
        gap = abs(recorded - refit) / max(abs(recorded), abs(refit), 1e-12)
        return gap if gap <= ROUNDING else None
    else:
        return 0.0 if recorded == refit else None
    return None if any(p is None for p in parts) else max(parts, default=0.0)  # type: ignore[type-var]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "…"
