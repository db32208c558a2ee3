"""AutoDistill: search student families under a wall-clock budget and choose a tradeoff.

The loop runs a fixed plan of rungs (see :mod:`auto_search.space`): level 0 of every family
streamed through joblib, then one rung per successive-halving level. Only rungs that finished
whole — a prefix of the plan — may be chosen from, so the budget or a Ctrl-C can cut rungs but
never change what a finished rung contains: same dataset, config and seed → same candidates
and same chosen model hash, with one worker or many.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from auto_search.closed_loop import PairedEpisodes
from auto_search.config import SearchConfig, default_families
from auto_search.engine import BudgetExpired, Engine
from auto_search.errors import SearchConfigError, SearchDataError, SearchError
from auto_search.evaluate import Candidate, SplitData, describe, rebuild, split_dataset
from auto_search.mix_search import SourcePool, fit_pool
from auto_search.pareto import pareto_front
from auto_search.policies import SCREEN_EPISODES, MinRetention, Policy, default_policy, parse_policy
from auto_search.progress import SearchProgress
from auto_search.reading import read_needed
from auto_search.result import SearchResult, SearchRun, dataset_summary, library_versions, teacher_summary
from auto_search.shipping import LoopRun, Shipped, loop_teacher, ship_closed_loop, shipped_figures, viper_weighted
from auto_search.space import Spec, check_family, families_for, fit_imports, full_data_rungs, make_plan, promote, unstarted_rungs
from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import is_team_env
from hybrid.errors import DataError
from hybrid.loop.rollouts import Rollouts
from hybrid.spaces import action_space_of, state_space_of

RESERVE = 0.02  # share of the budget (at most 1 s) left for cancelling workers, choosing and reporting


class AutoDistill:
    """Find the cheapest student that keeps the teacher's behaviour, within ``budget_s`` seconds.

    ``policy`` is ``"auto"`` (the default: ``min-retention:0.99`` when ``env`` and ``teacher``
    are given, else ``knee``), ``"knee"``, a spec string (``"min-cost:0.95"``,
    ``"within-best:0.01"``, ``"max-fidelity:200"``, ``"min-retention:0.99"``), a policy object
    from :mod:`auto_search.policies` or a callable. With ``env`` and ``teacher`` the Pareto
    candidates are scored in the loop on paired, seeded episodes (retention with a confidence
    interval), the chosen student gets DAgger rounds on the training split, and the student that
    ships is re-measured on fresh episodes. Further options are :class:`SearchConfig` fields; a
    misspelt one fails here, naming the closest.
    """

    def __init__(
        self,
        families: Sequence[str] | None = None,
        budget_s: float = 60.0,
        policy: str | Policy | Callable = "auto",
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
        _check_options(options)
        self.config()  # every option is validated now, not after minutes of work

    @classmethod
    def from_config(cls, config: SearchConfig, *, env: Any = None, teacher: Any = None, policy: Policy | Callable | None = None) -> AutoDistill:
        """An AutoDistill running exactly ``config`` (a policy object may replace its string)."""
        d = config.to_dict()
        keys = ("families", "budget_s", "policy", "val_fraction", "seed", "n_jobs", "backend", "verbose")
        main = {k: d.pop(k) for k in keys}
        if policy is not None:
            main["policy"] = policy
        return cls(**main, env=env, teacher=teacher, **d)

    @property
    def closed_loop(self) -> bool:
        """Whether candidates are scored in the environment (``env`` and ``teacher`` given)."""
        return self.env is not None and self.teacher is not None

    def _policy(self) -> Policy:
        if isinstance(self.policy, str) and self.policy.strip() == "auto":
            return parse_policy(default_policy(self.closed_loop))
        return parse_policy(self.policy)

    def config(self) -> SearchConfig:
        """The validated, frozen configuration this search runs (raises on a bad option); an
        ``"auto"`` policy appears resolved."""
        return SearchConfig(
            families=default_families() if self.families is None else tuple(self.families),
            budget_s=self.budget_s,
            policy=self._policy().spec,
            val_fraction=self.val_fraction,
            seed=self.seed,
            n_jobs=self.n_jobs,
            backend=self.backend,
            verbose=self.verbose,
            **self.options,
        )

    def fit(self, dataset: DistillDataset | Rollouts | Any) -> SearchResult:
        """Search ``dataset`` (a ``DistillDataset``, what ``hybrid.collect`` returns, a lazy log such
        as ``hybrid.ParquetLog`` read only where ``max_rows`` samples it, or a ``hybrid.DataPool``
        whose source shares are searched as well); returns what finished,
        with the student to ship in ``result.student``."""
        started, t0 = time.time(), time.monotonic()
        config, policy = self.config(), self._policy()
        if isinstance(dataset, SourcePool):  # e.g. a hybrid.DataPool: the source shares are searched too
            return fit_pool(dataset, config, self._search_one, env=self.env if self.closed_loop else None, teacher=self.teacher)
        if len(config.data_mixes) > 1:
            raise SearchConfigError(f"data_mixes lists {len(config.data_mixes)} mixes but fit got one dataset; pass a hybrid.DataPool of the sources to mix.")
        dataset = _as_dataset(read_needed(dataset, config.max_rows, config.seed))  # a lazy log reads only the rows sampled
        _check_dataset(dataset)
        if self.closed_loop and is_team_env(self.env):  # rows of another team view (features, agents) fail here, before any work
            loop_teacher(self.teacher, self.env, dataset)
        families = families_for(dataset, config.families, default_families())  # the dataset's spaces pick the default families
        if families != config.families:
            config = replace(config, families=families)
        if getattr(policy, "needs_closed_loop", False) and not self.closed_loop:
            raise SearchConfigError(
                f"policy {policy.spec} scores students in the environment: pass env=… and teacher=… to AutoDistill (on the command line: --env ENV_ID)."
            )
        featurized = state_space_of(dataset).featurized
        if self.closed_loop and (featurized or getattr(policy, "needs_held_out", False)):
            what = (
                "record states are featurized per search and have no environment to run in"
                if featurized
                else (f"policy {policy.spec} chooses on held-out agreement and ships a deferring student")
            )
            raise SearchConfigError(f"closed-loop scoring and DAgger do not apply here: {what}; leave out env=… and teacher=… (--env).")
        for family in config.families:
            check_family(family)  # a missing family fails here, before any work
        # keep back a sliver of the budget for cancelling, choosing and a report written right after;
        # with an environment, a share of it for closed-loop scoring and DAgger
        end = t0 + config.budget_s - min(1.0, RESERVE * config.budget_s)
        deadline = end - (loop_share(config, policy) * config.budget_s if self.closed_loop else 0.0)
        data, train = split_dataset(dataset, config.val_fraction, config.seed)
        if config.weighting:
            data = viper_weighted(data, config, self._weighting_teacher(data))
        plan = make_plan(config.families, data.X.shape[0], eta=config.eta, min_states=config.min_rung_states, epochs=config.max_epochs, seed=config.seed)
        run = _Run(plan.first_rungs)
        stop = None
        with SearchProgress(sum(map(len, plan.first_rungs)), deadline, verbose=config.verbose) as bar:

            def on_result(c: Candidate, artifact: dict | None) -> None:
                run.add(replace(c, finished_s=time.monotonic() - t0), artifact)
                bar.update(len(run.done), run.planned, run.best_fidelity())

            try:
                with Engine(config.backend, config.n_jobs, preload=fit_imports(config.families)) as workers:  # started once, kept for every rung
                    # a retention bar's larger loop share never leaves the search with nothing finished
                    first_by = end - config.closed_loop_share * config.budget_s if self.closed_loop else None
                    workers.run([s for r in plan.first_rungs for s in r], data, deadline=deadline, on_result=on_result, until_first=first_by)
                    for level in range(1, plan.n_levels):
                        rung = promote(plan, level, list(run.done.values()), first_id=run.next_id, rung=len(run.rungs))
                        run.levels_started = level
                        queued = [rung] if rung else []
                        if level == plan.n_levels - 1:  # the full-data stream is known once the top level is promoted
                            queued += full_data_rungs(plan, list(run.done.values()), rung, first_id=run.next_id + len(rung), rung=len(run.rungs) + len(queued))
                        run.rungs += queued
                        if queued:
                            workers.run([s for r in queued for s in r], data, deadline=deadline, on_result=on_result)
            except BudgetExpired:
                stop = "budget"
            except KeyboardInterrupt:
                stop = "interrupted"
        fit_s = time.monotonic() - t0
        unstarted = unstarted_rungs(plan, run.levels_started) if stop else 0
        ctx = _Context(config, policy, dataset, data, train, self, stop, started, fit_s, t0, end)
        return _finish(run, unstarted, ctx)

    def _weighting_teacher(self, data: Any) -> Any:
        """The teacher whose values weight the training rows; refuses a search without one."""
        if not self.closed_loop or is_team_env(self.env):
            raise SearchConfigError(
                "weighting reads one teacher's values in its environment: pass env=… and a one-agent teacher=… (--env), or leave weighting empty."
            )
        return loop_teacher(self.teacher, self.env, data)

    def _search_one(self, config: SearchConfig, dataset: Any) -> SearchResult:
        """One ordinary search of ``dataset`` under ``config``, with this search's environment,
        teacher and policy object (the data-mix search runs one per mix)."""
        policy = None if isinstance(self.policy, str) else self.policy
        return AutoDistill.from_config(config, env=self.env, teacher=self.teacher, policy=policy).fit(dataset)


_KNOWN = frozenset(f.name for f in fields(SearchConfig))


CLAIM_LOOP_SHARE = 0.5  # the least share of the budget a declared retention bar gets in the loop: its claim needs hundreds of episodes


def loop_share(config: SearchConfig, policy: Any) -> float:
    """The share of the budget kept for the closed loop: the configured one, and at least
    ``CLAIM_LOOP_SHARE`` when the policy declares a retention bar to claim."""
    return max(config.closed_loop_share, CLAIM_LOOP_SHARE) if getattr(policy, "bar", None) is not None else config.closed_loop_share


def _check_options(options: dict[str, Any]) -> None:
    """Refuse an option that is no SearchConfig field, naming the closest one."""
    for name in options:
        if name not in _KNOWN:
            close = difflib.get_close_matches(name, sorted(_KNOWN | {"env", "teacher"}), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; options are {sorted(_KNOWN)}"
            raise SearchConfigError(f"AutoDistill got an unknown option {name!r}{hint}")


def _as_dataset(data: Any) -> Any:
    """The dataset of ``data``: one carrying its state and action spaces (a ``DistillDataset``
    or a ``hybrid.data.records.RecordDataset``) as it is, or the ``.dataset`` of a ``Rollouts``."""
    if isinstance(data, Rollouts):
        return data.dataset
    try:
        state_space_of(data), action_space_of(data)
        spaced = True
    except DataError:
        spaced = False
    if not spaced or not all(hasattr(data, a) for a in ("P", "action_names", "split", "content_hash")):
        raise SearchDataError(
            f"AutoDistill.fit takes a hybrid.DistillDataset (or what hybrid.collect returns); got {type(data).__name__}. "
            "Build one with hybrid.collect(env, teacher, …).dataset, TrajectoryStore.to_dataset() or DistillDataset.load(path)."
        )
    return data


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
        raise SearchDataError("the dataset is empty (0 states); record teacher decisions first, e.g. with hybrid.data.store.TrajectoryStore.")
    reason = action_space_of(ds).nothing_to_distil(ds.P)
    if reason is not None:
        raise SearchDataError(reason)
    if len(ds) < 20:
        raise SearchDataError(f"the dataset has only {len(ds)} states; a search needs at least 20 to hold some out for scoring.")


@dataclass(frozen=True)
class _Context:
    """What the end of a search needs besides its candidates."""

    config: SearchConfig
    policy: Policy
    dataset: Any
    data: SplitData
    train: Any
    search: AutoDistill
    stop: str | None
    started: float
    fit_s: float
    t0: float
    end: float  # monotonic time by which the search is done (confirmation included)

    @property
    def choose_by(self) -> float:
        """When scoring the front and DAgger must stop: a third of the closed-loop share is kept
        for confirming the shipped student on fresh episodes."""
        return self.end - self.config.closed_loop_share * self.config.budget_s / 3


def _finish(run: _Run, unstarted: int, ctx: _Context) -> SearchResult:
    """Choose among whole rungs; with an environment, score the front in the loop first and
    give the chosen student DAgger rounds; then measure the student that ships."""
    config, policy, data, search = ctx.config, ctx.policy, ctx.data, ctx.search
    if isinstance(policy, MinRetention):  # a claim needs episodes enough to have seen a rare failure
        policy = replace(policy, min_episodes=config.min_episodes)
    complete = run.complete_prefix()
    candidates = sorted(run.done.values(), key=lambda c: c.id)
    pool = [c for c in candidates if c.status == "ok" and c.rung < complete]
    reproducible = bool(pool)
    if not pool:  # not even one whole rung: fall back to whatever finished, and say so
        pool = [c for c in candidates if c.status == "ok"]
    # a student no better than a policy that never looks at the state is no student
    baseline = data.space.constant_fidelity(data.P, data.P_val)
    pool = [c for c in pool if (c.fidelity or 0.0) > baseline] or pool
    front = pareto_front(pool)
    closed = search.closed_loop and ctx.stop != "interrupted" and bool(pool)
    bar = getattr(policy, "bar", None)
    teacher: Any = None  # the one-agent Teacher, or a TeamTeacher in a team environment
    episodes = loop = None
    students: dict[int, Any] = {}  # rebuilt Pareto students, reused for the one chosen
    # with a declared bar, choosing (a screen) gets a third of what is left, confirming (the claim, hundreds of episodes) the rest
    choose_by = ctx.choose_by if bar is None else time.monotonic() + max(0.0, ctx.end - time.monotonic()) / 3
    if closed:  # before choosing, so a policy may choose by return in the environment
        teacher = loop_teacher(search.teacher, search.env, data)
        students = {c.id: rebuild(c, run.artifacts[c.id]) for c in front}
        episodes = PairedEpisodes(
            search.env,
            teacher,
            seed=config.seed,
            first=config.closed_loop_episodes,
            cap=config.closed_loop_max_episodes,
            confidence=config.confidence,
            deadline=choose_by,
            return_range=config.value_range,
            min_episodes=config.min_episodes if bar is not None else 0,
            screen_episodes=SCREEN_EPISODES if bar is not None else None,
        )
        scored = {c.id: c for c in candidates}
        _race(sorted(front, key=lambda c: (c.ops_per_decision, c.id)), students, scored, episodes, policy, bar, choose_by, ctx.end)
        candidates = [scored[c.id] for c in candidates]
        pool = [scored[c.id] for c in pool]
    chosen = student = words = cascade = None
    if pool and getattr(policy, "needs_held_out", False):  # cascade:…, see auto_search.cascade
        chooser: Any = policy  # a policy with needs_held_out has choose(); see auto_search.cascade.Cascade
        chosen, words, student, cascade = chooser.choose(pool, run.artifacts, data, seed=config.seed)
    elif pool:
        chosen, words = policy(pool)
        student = students.get(chosen.id) or rebuild(chosen, run.artifacts[chosen.id])
    rungs: list[dict[str, Any]] = [
        {
            "index": i,
            "level": r[0].level if r else 0,
            "candidates": len(r),
            "finished": sum(s.id in run.done for s in r),
            "status": "complete" if i < complete else "cut",
            "rows_read": max((s.n_train for s in r), default=0) + len(data.X_val),  # training prefix of its largest fit, and the held-out rows
        }
        for i, r in enumerate(run.rungs)
    ]
    start = len(run.rungs)  # rungs a stopped search never started are cut too
    rungs += [{"index": i, "level": None, "candidates": 0, "finished": 0, "status": "cut", "rows_read": 0} for i in range(start, start + unstarted)]
    if chosen is None and ctx.stop != "interrupted":
        raise _nothing_finished(candidates, config)
    shipped = None
    if closed and chosen is not None and student is not None:
        assert episodes is not None
        if chosen.retention is None:  # a custom policy may choose off the front
            chosen = replace(chosen, **episodes.score(student, bar).as_fields())
        loop_run = LoopRun(search.env, teacher, episodes, policy, bar, choose_by, ctx.end)
        alternatives = [(scored[c.id], students[c.id]) for c in front if c.id in students]
        shipped_from, student, shipped, loop = ship_closed_loop(chosen, student, loop_run, data, config, alternatives)
        if shipped_from is not chosen:
            words = f"{words}; its confirmation missed the bound, so the claim was withdrawn and {describe(shipped_from)} ships instead"
            chosen = shipped_from
        reproducible = reproducible and not loop["cut_by_budget"]
    elif chosen is not None and student is not None:
        # on records: measured through its numeric part on the featurized held-out rows, then
        # shipped joined to the split's featurizer (whose cost and hash the figures carry)
        student, figures = shipped_figures(student, data)
        shipped = Shipped(
            source="chosen candidate", reason="the chosen candidate ships as fitted (no environment, so no DAgger)", family=chosen.family, **figures
        )
    return SearchResult(
        config=config,
        dataset=dataset_summary(ctx.dataset),
        teacher=teacher_summary(search.teacher),
        candidates=candidates,
        pareto=[c.id for c in front],
        chosen=chosen,
        choice=words,
        student=student,
        shipped=shipped,
        run=SearchRun(
            rungs=rungs,
            stopped_by=ctx.stop,
            reproducible=reproducible,
            started_at=ctx.started,
            search_s=time.monotonic() - ctx.t0,
            fit_s=ctx.fit_s,
            versions=library_versions(),
            baseline_fidelity=baseline,
            policy_note=_policy_note(search),
        ),
        sections={"closed_loop": loop, "cascade": cascade},
    )


def _race(
    front: list[Candidate],
    students: dict[int, Any],
    scored: dict[int, Candidate],
    episodes: PairedEpisodes,
    policy: Any,
    bar: float | None,
    choose_by: float,
    end: float,
) -> None:
    """Score the front (cheapest first) on the selection episodes, in rounds: every student
    still in the race gets the same number of episodes — ``first``, then twice as many each
    round — so students are compared on equal evidence when time runs out. A student leaves the
    race when its bound or its screen falls below the bar; the race ends at the cheapest student
    whose bound or screen clears it (costlier ones cannot be chosen), at the cap, or at
    ``choose_by`` — except that the first round runs on to ``end``, so every student is seen
    before one is chosen (a short budget would otherwise choose among the cheapest alone).
    Without a bar, one round."""
    level = episodes.first
    out: set[int] = set()
    while True:
        cleared = None
        for c in front:
            current = scored[c.id]
            if c.id in out:
                continue
            if current.loop_episodes is None or current.loop_episodes < level:
                if time.monotonic() >= (end if level == episodes.first else choose_by) and any(x.retention is not None for x in scored.values()):
                    episodes.cut = True  # the rest of the front stays at fewer episodes, and the report says so
                    return
                loop = episodes.score(students[c.id], bar, upto=level)
                scored[c.id] = current = replace(c, **loop.as_fields())
                if bar is not None and (loop.retention_high < bar or (loop.screen_high is not None and loop.screen_high < bar)):
                    out.add(c.id)
                    continue
            screened = getattr(policy, "screen_passes", None)  # MinRetention's; a custom policy with a bar may have none
            if bar is not None and (policy.bound_holds(current) or (screened is not None and screened(current))):
                cleared = c
                break  # the cheapest student clearing the bar is found: costlier ones cannot be chosen
        if bar is None or cleared is not None or level >= episodes.cap:
            return
        level = min(2 * level, episodes.cap)


def _nothing_finished(candidates: Sequence[Candidate], config: SearchConfig) -> SearchError:
    """The error of a search that has no student to return: every candidate failed (the first
    error named), or the budget ended before one finished (a budget to try named)."""
    failed = [c for c in candidates if c.status != "ok"]
    if failed:
        return SearchError(
            f"all {len(failed)} candidate(s) that finished failed, the first ({failed[0].family}) with {failed[0].error}; "
            "fix that, or leave the family out (families=…, --families)."
        )
    more = max(30.0, 4 * config.budget_s)
    return SearchError(
        f"no candidate finished within budget_s={config.budget_s:g} s, so there is no student to return; "
        f"try budget_s={more:g} (--budget {more:g}) or fewer families than {list(config.families)}."
    )


def _policy_note(search: AutoDistill) -> str | None:
    if isinstance(search.policy, str) and search.policy.strip() == "auto":
        why = (
            "an environment and a teacher were given, so students are chosen by return"
            if search.closed_loop
            else "no environment was given, so students are chosen by held-out fidelity"
        )
        return f"policy auto → {default_policy(search.closed_loop)}: {why}"
    return None
