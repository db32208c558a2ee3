"""Run candidate fits in parallel under a wall-clock deadline, with workers kept for a whole search.

``loky`` (the default) and ``threading`` run on one machine through a
:mod:`concurrent.futures` executor created once per search, so rungs do not pay for starting
workers again; waits end at the deadline without touching process-wide signals or timers (a
caller's ``SIGALRM`` stays theirs). ``dask`` runs on the current ``dask.distributed`` client's
executor the same way, with the split scattered to every worker once per search (``scatters``
counts it) rather than shipped with each fit; ``ray`` goes through joblib, the deadline checked
as each result arrives. At most one fit per worker is in
flight, so when the deadline passes nothing is left queued: fits already running finish in the
background (at most one per worker) and their results are ignored. Once a rung is whole, a fit
the clock says cannot finish before the deadline is not started (:class:`FitClock`), nor any
after it: the search ends early rather than keep workers on fits it would discard.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from auto_search.errors import SearchConfigError
from auto_search.evaluate import Candidate, SplitData, evaluate_spec
from auto_search.space import Spec, config_key, is_expensive

OnResult = Callable[[Candidate, "dict[str, Any] | None"], None]
IDLE_WORKER_S = 300  # loky workers left idle this long exit (joblib's own default): the next search in the process finds them warm
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # workers already fill the cores


class BudgetExpired(BaseException):
    """The wall-clock deadline passed (a BaseException, so no ``except Exception`` in a fit swallows it)."""


class FitClock:
    """How long a planned fit is expected to take, from the fits that finished: its own worker
    time if this configuration was fitted on as many states before, else the median of its
    family's fits on that many states (``None`` while there is none). Scaling a configuration by
    its time on few states proved too noisy (a worker's first fit pays warm-ups), and an
    overestimate ends a search early, so the clock stays plain. Used only to decide whether to
    start a fit, never to choose between students."""

    def __init__(self) -> None:
        self._by_size: dict[tuple[str, int], dict[str, float]] = {}  # (family, states) → {configuration: worker seconds}

    def add(self, c: Candidate) -> None:
        if c.status == "ok":
            self._by_size.setdefault((c.family, c.n_train), {})[config_key(c.params)] = c.task_s

    def expected_s(self, spec: Spec) -> float | None:
        at_size = self._by_size.get((spec.family, spec.n_train))
        if not at_size:
            return None
        return at_size.get(config_key(spec.params), statistics.median(at_size.values()))


def _preload(modules: tuple[str, ...]) -> None:
    """Loky worker initializer: import the families' heavy modules before the first fit. Loky
    takes a worker's memory reference after its first task; were that a tree fit, the torch
    import of a later MLP fit would look like a leak and the worker would be restarted (and pay
    the import again)."""
    import importlib

    for name in modules:
        importlib.import_module(name)


def _workers(n_jobs: int) -> int:
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


class Engine:
    """Evaluates specs on ``backend`` with ``n_jobs`` workers; use as a context manager around a search."""

    def __init__(self, backend: str, n_jobs: int, *, preload: Sequence[str] = ()) -> None:
        self.backend, self.n_jobs = backend, n_jobs
        self.preload = tuple(sorted(set(preload)))  # modules workers import before their first fit
        self._executor: cf.Executor | None = None
        self.clock = FitClock()
        self._finished_any = False
        self._rung_done = False  # some rung given to run() finished whole
        self._client: Any = None
        self._scattered: tuple[SplitData, Any] | None = None  # the split and its future on the cluster
        self.scatters = 0  # times a split was sent to the cluster (once per search)
        self._cluster_threads = 0
        if backend == "dask":
            try:
                from distributed import get_client

                self._client = get_client()
            except (ImportError, ValueError):
                raise SearchConfigError(
                    "backend='dask' needs a running dask.distributed Client; create one first, e.g. `from dask.distributed import Client; client = Client()` (pip install 'dask[distributed]')."
                ) from None
        elif backend == "ray":
            try:
                from ray.util.joblib import register_ray
            except ImportError:
                raise SearchConfigError("backend='ray' needs Ray: pip install 'ray[default]', or use backend='loky' or 'dask'.") from None
            register_ray()

    def __enter__(self) -> Engine:
        workers = _workers(self.n_jobs)
        if workers > 1 and self.backend == "loky":
            from joblib.externals.loky import get_reusable_executor

            self._executor = get_reusable_executor(max_workers=workers, env=_ONE_THREAD, timeout=IDLE_WORKER_S, initializer=_preload, initargs=(self.preload,))
        elif workers > 1 and self.backend == "threading":
            self._executor = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="autodistill")
        elif self.backend == "dask":
            self._executor = self._client.get_executor(pure=False)
            self._cluster_threads = max(1, sum(self._client.nthreads().values()))
        return self

    def __exit__(self, *exc: object) -> None:
        if isinstance(self._executor, cf.ThreadPoolExecutor):
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = None  # loky's executor is reusable: the next search finds its workers warm

    def run(self, specs: Sequence[Spec], data: SplitData, *, deadline: float, on_result: OnResult, until_first: float | None = None) -> None:
        """Evaluate ``specs``, calling ``on_result`` as each finishes (any order); raises
        :class:`BudgetExpired` at ``deadline``, or earlier once no fit left can finish by then,
        and lets ``KeyboardInterrupt`` through, in both cases after cancelling what has not
        finished. ``until_first``: while no fit of this engine has finished yet, the run may go
        on until this later time, and ends at its first result once ``deadline`` has passed
        (a search with nothing finished could choose nothing)."""
        hard = deadline
        if until_first is not None and not self._finished_any:
            deadline = max(deadline, until_first)
        if time.monotonic() >= deadline:
            raise BudgetExpired()

        left = Counter(s.rung for s in specs)

        def record(c: Candidate, artifact: dict[str, Any] | None) -> None:
            self.clock.add(c)
            left[c.rung] -= 1
            self._rung_done = self._rung_done or left[c.rung] == 0
            self._finished_any = True
            on_result(c, artifact)
            if deadline > hard and time.monotonic() >= hard:  # the extension for a first result is used up
                raise BudgetExpired()

        if self._executor is not None:
            self._run_futures(specs, self._on_cluster(data), deadline, record)
        elif self.backend == "ray":
            self._run_joblib(specs, data, deadline, record)
        else:  # one worker: in this process, the clock checked between fits
            for spec in specs:
                if not self._fits_in_time(spec, deadline):
                    raise BudgetExpired()
                record(*evaluate_spec(spec, data))
                if time.monotonic() >= deadline:
                    raise BudgetExpired()

    def _on_cluster(self, data: SplitData) -> Any:
        """``data`` as the workers receive it: on a Dask cluster, a future of it scattered to
        every worker the first time (the same split is reused by every rung), else ``data``."""
        if self._client is None:
            return data
        if self._scattered is None or self._scattered[0] is not data:
            self._scattered = (data, self._client.scatter(data, broadcast=True, hash=False))
            self.scatters += 1
        return self._scattered[1]

    def _slots(self) -> int:
        """Fits in flight at once: the workers, or a Dask cluster's threads (counted on entry)."""
        return self._cluster_threads or _workers(self.n_jobs)

    def _fits_in_time(self, spec: Spec, deadline: float) -> bool:
        """Whether to start ``spec``: always while no rung is whole (nothing could be chosen
        otherwise), then only if the clock expects it to finish by the deadline."""
        expected = self.clock.expected_s(spec)
        return not self._rung_done or expected is None or time.monotonic() + expected < deadline

    def _run_futures(self, specs: Sequence[Spec], data: Any, deadline: float, on_result: OnResult) -> None:
        """At most one task per worker in flight, so at the deadline nothing sits queued in the
        executor. Fits start in plan order; once the next one cannot finish in time, none after
        it would count (only whole rungs of a prefix of the plan may be chosen), so none starts."""
        assert self._executor is not None
        todo = list(reversed(specs))
        if len({s.rung for s in specs}) == 1:  # one rung counts only whole: longest first (expensive
            # families, more states), so its last fit is short and fewer workers idle at its end
            todo = sorted(specs, key=lambda s: (is_expensive(s.family), s.n_train, -s.id))
        running: set[cf.Future] = set()
        out_of_time = False
        try:
            while todo or running:
                while todo and len(running) < self._slots():
                    if not self._fits_in_time(todo[-1], deadline):
                        todo, out_of_time = [], True  # the rest counts for nothing: end when the running fits do
                        break
                    running.add(self._executor.submit(evaluate_spec, todo.pop(), data))
                if not running:
                    break
                done, running = cf.wait(running, timeout=max(0.0, deadline - time.monotonic()), return_when=cf.FIRST_COMPLETED)
                for future in done:
                    on_result(*future.result())
                if time.monotonic() >= deadline and (running or todo):
                    raise BudgetExpired()
            if out_of_time:
                raise BudgetExpired()
        except BaseException:
            for future in running:  # fits still running finish in the background, their results ignored
                future.cancel()
            raise

    def _run_joblib(self, specs: Sequence[Spec], data: SplitData, deadline: float, on_result: OnResult) -> None:
        import joblib

        with joblib.parallel_config(backend=self.backend, n_jobs=self.n_jobs):
            results = joblib.Parallel(return_as="generator_unordered", batch_size=1)(joblib.delayed(evaluate_spec)(s, data) for s in specs)
            try:
                for candidate, artifact in results:
                    on_result(candidate, artifact)
                    if time.monotonic() >= deadline:
                        raise BudgetExpired()
            finally:
                results.close()  # joblib cancels what is still queued or running
