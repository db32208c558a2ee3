"""AutoDistill: search student families under a wall-clock budget and choose a tradeoff.

The loop runs a fixed plan of rungs (see :mod:`auto_search.space`): level 0 of every family
streamed through joblib, then one rung per successive-halving level. Only rungs that finished
whole — a prefix of the plan — may be chosen from, so the budget or a Ctrl-C can cut rungs but
never change what a finished rung contains: same dataset, config and seed → same candidates
and same chosen model hash, with one worker or many.
"""

from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from auto_search.config import FAMILIES, SearchConfig
from auto_search.errors import SearchConfigError, SearchDataError
from auto_search.evaluate import BudgetExpired, Candidate, SplitData, run_specs
from auto_search.pareto import pareto_front
from auto_search.policies import Policy, parse_policy
from auto_search.progress import SearchProgress
from auto_search.result import SearchResult, dataset_summary, library_versions, teacher_summary
from auto_search.space import Spec, check_family, full_data_rung, make_plan, promote, student_class, unstarted_rungs


RESERVE = 0.02  # share of the budget (at most 1 s) left for cancelling workers, choosing and reporting


class AutoDistill:
    """Find the cheapest student that keeps the teacher's behaviour, within ``budget_s`` seconds.

    ``policy`` is ``"knee"``, a spec string (``"min-cost:0.95"``, ``"within-best:0.01"``,
    ``"max-fidelity:200"``), a :class:`~auto_search.policies.MinCost` /
    :class:`~auto_search.policies.MaxFidelity` object or a callable. With ``env`` and
    ``teacher`` the Pareto candidates are also rolled out (retention, fidelity on the states
    the student visits) and the chosen student gets DAgger rounds.
    """

    def __init__(
        self,
        families: Sequence[str] = FAMILIES,
        budget_s: float = 60.0,
        policy: str | Policy | Callable = "knee",
        val_fraction: float = 0.2,
        seed: int = 0,
        n_jobs: int = -1,
        backend: str = "loky",
        env: Any = None,
        teacher: Any = None,
        verbose: int = 1,
        **options: Any,
    ) -> None:
        self.families = families
        self.budget_s = budget_s
        self.policy = policy
        self.val_fraction = val_fraction
        self.seed = seed
        self.n_jobs = n_jobs
        self.backend = backend
        self.env = env
        self.teacher = teacher
        self.verbose = verbose
        self.options = options  # further SearchConfig fields: eta, min_rung_states, max_epochs, …

    @classmethod
    def from_config(cls, config: SearchConfig, *, env: Any = None, teacher: Any = None, policy: Policy | Callable | None = None) -> "AutoDistill":
        """An AutoDistill running exactly ``config`` (a policy object may replace its string)."""
        d = config.to_dict()
        keys = ("families", "budget_s", "policy", "val_fraction", "seed", "n_jobs", "backend", "verbose")
        main = {k: d.pop(k) for k in keys}
        if policy is not None:
            main["policy"] = policy
        return cls(**main, env=env, teacher=teacher, **d)

    def config(self) -> SearchConfig:
        """The validated, frozen configuration this search runs (raises on a bad option)."""
        return SearchConfig(
            families=tuple(self.families), budget_s=self.budget_s, policy=parse_policy(self.policy).spec,
            val_fraction=self.val_fraction, seed=self.seed, n_jobs=self.n_jobs, backend=self.backend,
            verbose=self.verbose, **self.options,
        )

    def fit(self, dataset: Any) -> SearchResult:
        """Search ``dataset`` (a ``hybrid.dataset.DistillDataset``); returns what finished."""
        started, t0 = time.time(), time.monotonic()
        config, policy = self.config(), parse_policy(self.policy)
        from auto_search.featurized import with_record_families

        config = with_record_families(config, dataset)  # record states: keyword rule lists too
        _check_dataset(dataset)
        if getattr(policy, "needs_closed_loop", False) and (self.env is None or self.teacher is None):
            raise SearchConfigError(f"policy {policy.spec} scores students in the environment: pass env=… and teacher=… to AutoDistill (on the command line: --env ENV_ID).")
        for family in config.families:
            check_family(family)  # a missing family fails here, before any work
        # keep back a sliver of the budget for cancelling, choosing and a report written right after
        deadline = t0 + config.budget_s - min(1.0, RESERVE * config.budget_s)
        data = _split(dataset, config)
        plan = make_plan(config.families, data.X.shape[0], eta=config.eta, min_states=config.min_rung_states, epochs=config.max_epochs, seed=config.seed)
        run = _Run(plan.first_rungs)
        stop = None
        with SearchProgress(sum(map(len, plan.first_rungs)), deadline, verbose=config.verbose) as bar:
            def on_result(c: Candidate, artifact: dict | None) -> None:
                run.add(replace(c, finished_s=time.monotonic() - t0), artifact)
                bar.update(len(run.done), run.planned, run.best_fidelity())

            try:
                run_specs([s for r in plan.first_rungs for s in r], data, n_jobs=config.n_jobs, backend=config.backend, deadline=deadline, on_result=on_result)
                for level in range(1, plan.n_levels):
                    rung = promote(plan, level, list(run.done.values()), first_id=run.next_id, rung=len(run.rungs))
                    run.levels_started = level
                    if rung:
                        run.rungs.append(rung)
                        run_specs(rung, data, n_jobs=config.n_jobs, backend=config.backend, deadline=deadline, on_result=on_result)
                while rung := full_data_rung(plan, plan.n_levels - 1, list(run.done.values()), first_id=run.next_id, rung=len(run.rungs)):
                    run.rungs.append(rung)
                    run_specs(rung, data, n_jobs=config.n_jobs, backend=config.backend, deadline=deadline, on_result=on_result)
            except BudgetExpired:
                stop = "budget"
            except KeyboardInterrupt:
                stop = "interrupted"
        search_s = time.monotonic() - t0
        unstarted = unstarted_rungs(plan, list(run.done.values()), run.levels_started) if stop else 0
        return _finish(run, unstarted, policy, config, dataset, data, self, stop, started, search_s)


class _Run:
    """Bookkeeping of one search: rungs started, results by candidate id, artifacts."""

    def __init__(self, first_rungs: Sequence[Sequence[Spec]]) -> None:
        self.rungs: list[Sequence[Spec]] = list(first_rungs)
        self.done: dict[int, Candidate] = {}
        self.artifacts: dict[int, dict] = {}
        self.levels_started = 0  # successive-halving levels after level 0 that were planned

    def add(self, c: Candidate, artifact: dict | None) -> None:
        self.done[c.id] = c
        if artifact is not None:
            self.artifacts[c.id] = artifact

    @property
    def planned(self) -> int:
        return sum(map(len, self.rungs))

    @property
    def next_id(self) -> int:
        return self.planned

    def best_fidelity(self) -> float | None:
        scores = [c.fidelity for c in self.done.values() if c.fidelity is not None]
        return max(scores) if scores else None

    def complete_prefix(self) -> int:
        """Number of leading rungs whose every candidate finished."""
        n = 0
        for rung in self.rungs:
            if not all(s.id in self.done for s in rung):
                break
            n += 1
        return n


def _check_dataset(ds: Any) -> None:
    if len(ds) == 0:
        raise SearchDataError("the dataset is empty (0 states); record teacher decisions first, e.g. with hybrid.store.TrajectoryStore.")
    if ds.n_actions < 2:
        raise SearchDataError(f"the dataset has {ds.n_actions} action; distillation needs at least 2.")
    labels = np.unique(ds.labels)
    if labels.size < 2:
        name = ds.action_names[int(labels[0])]
        raise SearchDataError(f"the teacher chose the single action {name!r} in all {len(ds)} states; there is nothing to distil (a constant policy reproduces it). Log states where it acts differently.")
    if len(ds) < 20:
        raise SearchDataError(f"the dataset has only {len(ds)} states; a search needs at least 20 to hold some out for scoring.")


def _split(ds: Any, config: SearchConfig) -> SplitData:
    """Held-out split by the dataset's own seeded split; training states in a seeded order."""
    from auto_search.featurized import is_record_dataset, split_records

    if is_record_dataset(ds):  # structured states: a featurizer fitted on the training split only
        return split_records(ds, config)
    train, val = ds.split(config.val_fraction, config.seed)
    order = np.random.default_rng(config.seed).permutation(len(train))
    w, wv = train.weights, val.weights
    return SplitData(
        X=np.ascontiguousarray(train.X[order]), P=np.ascontiguousarray(train.P[order]),
        w=None if w is None else np.ascontiguousarray(w[order]), X_val=val.X, P_val=val.P, w_val=wv,
        action_names=tuple(ds.action_names), feature_names=None if ds.feature_names is None else tuple(ds.feature_names),
    )


def _finish(run: _Run, unstarted: int, policy: Policy, config: SearchConfig, dataset: Any, data: SplitData,
            search: AutoDistill, stop: str | None, started: float, search_s: float) -> SearchResult:
    """Choose among whole rungs, rebuild the chosen student, add closed-loop scores."""
    complete = run.complete_prefix()
    candidates = sorted(run.done.values(), key=lambda c: c.id)
    pool = [c for c in candidates if c.status == "ok" and c.rung < complete]
    reproducible = bool(pool)
    if not pool:  # not even one whole rung: fall back to whatever finished, and say so
        pool = [c for c in candidates if c.status == "ok"]
    # a student no better than always playing the teacher's most common action is no student
    baseline = float(np.bincount(data.P_val.argmax(axis=1), minlength=data.P_val.shape[1]).max() / len(data.P_val))
    pool = [c for c in pool if c.fidelity > baseline] or pool
    front = pareto_front(pool)
    closed = search.env is not None and search.teacher is not None and stop != "interrupted" and bool(pool)
    loop = teacher = None
    students: dict[int, Any] = {}  # rebuilt Pareto students, reused for the one chosen
    if closed:  # before choosing, so a policy may choose by return in the environment
        from auto_search.closed_loop import score_front
        from hybrid.teachers import as_teacher

        teacher = as_teacher(search.teacher)
        students = {c.id: _rebuild(c, run.artifacts[c.id]) for c in front}
        candidates, loop = score_front(candidates, [c.id for c in front], students, search.env, teacher, config, data.P_val.shape[1])
        scored = {c.id: c for c in candidates}
        pool = [scored[c.id] for c in pool]
    best = student = words = cascade = None
    if pool and getattr(policy, "needs_held_out", False):  # cascade:…, see auto_search.cascade
        best, words, student, cascade = policy.choose(pool, run.artifacts, data, seed=config.seed)
    elif pool:
        best, words = policy(pool)
        student = students.get(best.id) or _rebuild(best, run.artifacts[best.id])
    rungs = [
        {"index": i, "level": r[0].level if r else 0, "candidates": len(r),
         "finished": sum(s.id in run.done for s in r), "status": "complete" if i < complete else "cut"}
        for i, r in enumerate(run.rungs)
    ]
    start = len(run.rungs)  # rungs a stopped search never started are cut too
    rungs += [{"index": i, "level": None, "candidates": 0, "finished": 0, "status": "cut"} for i in range(start, start + unstarted)]
    result = SearchResult(
        config=config, dataset=dataset_summary(dataset), teacher=teacher_summary(search.teacher),
        candidates=candidates, pareto=[c.id for c in front], best=best, choice=words,
        best_student=student, rungs=rungs, stopped_by=stop, reproducible=reproducible,
        started_at=started, search_s=search_s, versions=library_versions(), baseline_fidelity=baseline,
        closed_loop=loop, cascade=cascade,
    )
    if student is not None:
        if closed and config.dagger_iterations > 0:
            from auto_search.closed_loop import dagger_chosen

            dagger_chosen(result, search.env, teacher, config, dataset)
        # of the student to ship (after DAgger, when it ran)
        from auto_search.featurized import numeric_part, ship

        result.confusion = _confusion(data.P_val, numeric_part(result.best_student).predict_proba(data.X_val))
        result.best_student = ship(result.best_student, data)  # records: joined to the split's featurizer
    return result


def _rebuild(c: Candidate, artifact: dict) -> Any:
    student = student_class(c.family).from_dict(artifact)
    if student.content_hash != c.content_hash:
        raise SearchDataError(f"candidate {c.id} ({c.family}) did not round-trip through its canonical form; its to_dict/from_dict disagree.")
    return student


def _confusion(P_teacher: np.ndarray, P_student: np.ndarray) -> list[list[int]]:
    """Counts of [teacher action][student action] on held-out states."""
    k = P_teacher.shape[1]
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (P_teacher.argmax(axis=1), P_student.argmax(axis=1)), 1)
    return m.tolist()
