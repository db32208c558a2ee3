"""AutoDistill against Optuna at equal wall budget, on synthetic teacher data.

Teacher: a random torch MLP (8 → 64 → 64 → 4, tanh) labelling 50k Gaussian states with its
action probabilities. For each seed, AutoDistill runs with ``budget_s`` and ``n_jobs`` workers
(reports included in its wall time); Optuna's multi-objective TPE (its default), NSGA-II and
random search get the same wall budget and worker count over the same space (family, then the
index of a configuration in that family's list), fitting on all training states, with
JournalStorage so both workers share one study. Scores: the front's hypervolume in
(fidelity × log10(1+ops)) bounded by the teacher's ops, and the operations of the cheapest
student within one point of the best fidelity (each method's own best, and the best any method
found on that seed, a bar that does not reward finding a worse best). AutoDistill is scored only
on what it may choose from — candidates of whole rungs of a prefix of its plan, each from the
moment that prefix finished — and its engine overhead is the share of its workers' time
(``n_jobs`` × search time, worker start-up included) not spent on those fits: idle, or fitting
what a budget cut discarded. Prints medians and ratios.

    python benchmarks/search.py                       # the issue's setting: 60 s, 5 seeds
    python benchmarks/search.py --budget 20 --seeds 1 # a quick look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from auto_search.config import default_families

FAMILIES = default_families()


def teacher_data(n: int, seed: int) -> tuple[Any, float]:
    """States and the action probabilities of a random MLP teacher; returns (dataset, teacher ops)."""
    import torch

    from hybrid.data.dataset import DistillDataset

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 4))
    X = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    with torch.no_grad():
        P = torch.softmax(3.0 * net(torch.as_tensor(X)), dim=1).numpy().astype(np.float32)
    ops = float(sum(m.weight.numel() for m in net if isinstance(m, torch.nn.Linear)))
    return DistillDataset(X, P, [f"a{i}" for i in range(4)]), ops


def front_scores(points: list[tuple[float, float]], teacher_ops: float) -> tuple[float, float | None]:
    """(hypervolume, ops of the cheapest student within 1 point of the best fidelity)."""
    from auto_search.pareto import hypervolume

    if not points:
        return 0.0, None
    best = max(f for f, _ in points)
    return hypervolume(points, teacher_ops), min(o for f, o in points if f >= best - 0.01)


def _seconds(t: float | None) -> str:
    return "never" if t is None else f"{t:.1f} s"


def cheapest_at(points: list[tuple[float, float]], floor: float) -> float | None:
    """Operations of the cheapest student with fidelity ≥ ``floor`` (None if none reaches it)."""
    ops = [o for f, o in points if f >= floor]
    return min(ops) if ops else None


def run_ours(ds: Any, teacher_ops: float, budget: float, seed: int, n_jobs: int, out: Path) -> dict[str, Any]:
    """One AutoDistill search, scored on what it may choose from: candidates of whole rungs of a
    prefix of its plan, each available from the moment that prefix finished."""
    from auto_search.search import AutoDistill

    t0 = time.monotonic()
    result = AutoDistill(budget_s=budget, seed=seed, n_jobs=n_jobs, verbose=0).fit(ds)
    result.write_report(out)
    wall = time.monotonic() - t0
    whole = {r["index"] for r in result.rungs if r["status"] == "complete"}
    usable = [c for c in result.candidates if c.rung in whole]
    ready: dict[int, float] = {}  # rung → when it and every rung before it had finished
    for rung in sorted(whole):
        ready[rung] = max([ready.get(rung - 1, 0.0)] + [c.finished_s for c in usable if c.rung == rung])
    ok = sorted((c for c in usable if c.status == "ok"), key=lambda c: ready[c.rung])
    timeline = [(ready[c.rung], c.fidelity, c.ops_per_decision) for c in ok]

    def hv_at(t: float) -> float:
        return front_scores([(f, o) for at, f, o in timeline if at <= t], teacher_ops)[0]

    seen: set[str] = set()
    first_front = None
    for at, c in zip((t for t, _, _ in timeline), ok):
        seen.add(c.family)
        if {"tree", "mlp"} <= seen:
            first_front = at
            break
    hv, cheapest = front_scores([(c.fidelity, c.ops_per_decision) for c in ok], teacher_ops)
    capacity = n_jobs * result.search_s
    useful = sum(c.task_s for c in usable)
    discarded = sum(c.task_s for c in result.candidates if c.rung not in whole)  # finished, but in a cut rung
    return {
        "wall_s": wall,
        "search_s": result.search_s,
        "candidates": len(ok),
        "finished": sum(c.status == "ok" for c in result.candidates),
        "per_family": {f: sum(c.family == f for c in ok) for f in FAMILIES},
        "first_front_s": first_front,
        "hv": hv,
        "hv25": hv_at(budget / 4) / hv if hv else 0.0,
        "hv50": hv_at(budget / 2) / hv if hv else 0.0,
        "cheapest_ops": cheapest,
        "overhead": 1.0 - useful / capacity,
        "discarded": discarded / capacity,
        "cut": sum(r["status"] == "cut" for r in result.rungs),
        "choice": result.choice,
        "points": [(c.fidelity, c.ops_per_decision) for c in ok],
        "timeline": timeline,
    }


def time_to_reach(run: dict[str, Any], hv_target: float, teacher_ops: float) -> float | None:
    """When our front's hypervolume first reached ``hv_target`` (None: never)."""
    points: list[tuple[float, float]] = []
    for finished, fidelity, ops in run["timeline"]:
        points.append((fidelity, ops))
        if front_scores(points, teacher_ops)[0] >= hv_target - 1e-12:
            return finished
    return None


def _optuna_worker(args: tuple) -> None:
    """One Optuna worker process on the shared journal study until the deadline."""
    import optuna

    from auto_search.evaluate import SplitData, evaluate_spec
    from auto_search.space import Spec, family_space

    journal, study_name, data_path, deadline, seed = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    arrays = np.load(data_path)
    data = SplitData(arrays["X"], arrays["P"], None, arrays["X_val"], arrays["P_val"], None)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=_sampler(study_name.split("-")[0], seed))

    def objective(trial: Any) -> tuple[float, float]:
        family = trial.suggest_categorical("family", FAMILIES)
        space = family_space(family, epochs=30)
        params = space[trial.suggest_int(f"{family}_config", 0, len(space) - 1)]
        cand, _ = evaluate_spec(Spec(trial.number, 0, 0, family, {**params, "random_state": seed}, data.X.shape[0]), data)
        if cand.status != "ok":
            raise optuna.TrialPruned(cand.error)
        trial.set_user_attr("ops", cand.ops_per_decision)
        return cand.fidelity, np.log10(1 + cand.ops_per_decision)

    study.optimize(objective, timeout=max(0.0, deadline - time.time()))


def _sampler(name: str, seed: int) -> Any:
    import optuna

    return {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler, "random": optuna.samplers.RandomSampler}[name](seed=seed)


def run_optuna(ds: Any, teacher_ops: float, sampler: str, budget: float, seed: int, n_jobs: int, tmp: Path) -> dict[str, Any]:
    import optuna

    train, val = ds.split(0.2, seed)
    data_path = tmp / f"data-{seed}.npz"
    np.savez(data_path, X=train.X, P=train.P, X_val=val.X, P_val=val.P)
    journal = str(tmp / f"{sampler}-{seed}.log")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    name = f"{sampler}-{seed}"
    optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize"])
    start = time.time()
    deadline = start + budget
    with mp.get_context("spawn").Pool(n_jobs) as pool:
        pool.map(_optuna_worker, [(journal, name, str(data_path), deadline, seed * 100 + i) for i in range(n_jobs)])
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_complete.timestamp() <= deadline]
    hv, cheapest = front_scores([(t.values[0], t.user_attrs["ops"]) for t in done], teacher_ops)
    points = [(t.values[0], t.user_attrs["ops"]) for t in done]
    return {"hv": hv, "cheapest_ops": cheapest, "candidates": len(done), "wall_s": time.time() - start, "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--states", type=int, default=50_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--samplers", nargs="*", default=["tpe", "nsga2", "random"])
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()

    ours, theirs = [], {s: [] for s in args.samplers}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            ds, teacher_ops = teacher_data(args.states, seed)
            r = run_ours(ds, teacher_ops, args.budget, seed, args.n_jobs, Path(tmp) / f"report-{seed}")
            ours.append(r)
            print(
                f"seed {seed} AutoDistill: {r['wall_s']:.1f} s wall, {r['candidates']} candidates {r['per_family']}, "
                f"first tree+mlp front at {_seconds(r['first_front_s'])}, hv {r['hv']:.3f} (25%: {r['hv25']:.0%}, 50%: {r['hv50']:.0%}), "
                f"overhead {r['overhead']:.1%} ({r['discarded']:.1%} in fits of cut rungs), ends at {r['search_s']:.1f} s, "
                f"{r['finished'] - r['candidates']} finished fits not choosable, cheapest within 1 pt: {r['cheapest_ops']} ops",
                flush=True,
            )
            print(f"    chose {r['choice']}", flush=True)
            for s in args.samplers:
                o = run_optuna(ds, teacher_ops, s, args.budget, seed, args.n_jobs, Path(tmp))
                theirs[s].append(o)
                print(f"seed {seed} optuna-{s}: {o['candidates']} trials, hv {o['hv']:.3f}, cheapest within 1 pt: {o['cheapest_ops']} ops", flush=True)
                r[f"reach_{s}_s"] = time_to_reach(r, o["hv"], teacher_ops)
                print(f"    ours reached optuna-{s}'s final hypervolume at {_seconds(r[f'reach_{s}_s'])} of {args.budget:g} s", flush=True)
            # the same bar for everyone: within 1 point of the best fidelity any method found on this seed
            runs = [r] + [theirs[s][-1] for s in args.samplers]
            floor = max(f for x in runs for f, _ in x["points"]) - 0.01
            for x in runs:
                x["common_ops"] = cheapest_at(x["points"], floor)
            print(
                f"seed {seed} cheapest within 1 pt of the best found by any method ({100 * floor:.1f}%): ours {r['common_ops']}, "
                + ", ".join(f"{s} {theirs[s][-1]['common_ops']}" for s in args.samplers),
                flush=True,
            )

    med = statistics.median
    print(f"\nmedian over {args.seeds} seed(s), budget {args.budget:g} s, n_jobs {args.n_jobs}, {args.states} states × 8 × 4")
    print(
        f"AutoDistill: wall {med(r['wall_s'] for r in ours):.1f} s, {med(r['candidates'] for r in ours):.0f} candidates, "
        f"hv {med(r['hv'] for r in ours):.3f}, hv at 25% {med(r['hv25'] for r in ours):.0%}, at 50% {med(r['hv50'] for r in ours):.0%}, "
        f"overhead {med(r['overhead'] for r in ours):.1%} (seed 0, the first search of the process: {ours[0]['overhead']:.1%}), "
        f"cheapest within 1 pt {med(r['cheapest_ops'] for r in ours):g} ops"
    )
    for s, rs in theirs.items():
        hv_ratio = med(a["hv"] / b["hv"] if b["hv"] else float("inf") for a, b in zip(ours, rs))
        ops = [b["cheapest_ops"] for b in rs if b["cheapest_ops"] is not None]
        print(
            f"optuna-{s}: {med(b['candidates'] for b in rs):.0f} trials, hv {med(b['hv'] for b in rs):.3f}; "
            f"our/their hypervolume {hv_ratio:.3f}; cheapest within 1 pt of own best {med(ops) if ops else float('nan'):g} ops "
            f"(ours {med(r['cheapest_ops'] for r in ours):g}); reached the common bar on {sum(b['common_ops'] is not None for b in rs)}/{len(rs)} seeds "
            f"(ours {sum(r['common_ops'] is not None for r in ours)}/{len(ours)}); ours reached its final hypervolume at "
            f"{', '.join(_seconds(r[f'reach_{s}_s']) for r in ours)} (median share of the budget "
            f"{med((r[f'reach_{s}_s'] if r[f'reach_{s}_s'] is not None else float('inf')) for r in ours) / args.budget:.0%})"
        )
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "ours": ours, "optuna": theirs}, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
