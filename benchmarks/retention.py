"""Retention of distilled students against their teachers, on CartPole, Acrobot and LunarLander.

For each environment, all measured in the same run on the same test episodes: the committed
PPO teacher; AutoDistill's chosen student (by default the cheapest Pareto student that keeps 99% of
the teacher's return on AutoDistill's own seeded episodes, a policy declared before the run; DAgger);
the best rules-only student (≤ 32 rules, chosen on validation episodes); the best rules+MLP
hybrid (chosen on validation episodes); and the peers a user would try instead: behaviour-
cloned trees (depth 4, 8), the same with DAgger, a VIPER-style Q-weighted DAgger tree
(log-probabilities stand in for Q with PPO teachers) and an MLP cloned on hard labels.

Columns: mean return over ``--episodes`` test episodes; retention = (R − R_random) /
(R_teacher − R_random) with a uniformly random policy on the same episodes; fidelity (top-1
agreement) on held-out teacher states and on the states the student itself visits; operations
per decision and their share of the teacher's multiply-adds; size (rules or parameters);
single-decision latency of the exported Python function (state as a list of floats) or, where a
family has no export, ``predict`` on one row; and the teacher's torch forward on one state
divided by it (the teacher is timed again beside each student, so both see the same load on a
shared machine; best of 5 passes over 300 held-out states). Seeds: training rollouts, held-out rollouts, validation episodes (selection of
tuned rows and DAgger iterates) and test episodes all differ.

    python benchmarks/retention.py                                    # full run, ~15 min on 2 cores
    python benchmarks/retention.py --envs CartPole-v1 --episodes 2 --quick --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _retention_peers import (
    Context,
    baseline_returns,
    best_hybrid,
    best_rules,
    measure,
    run_dagger,
    teacher_latency_s,
)

from auto_search.search import AutoDistill
from hybrid.rollouts import collect
from hybrid.students.mlp import MLPStudent
from hybrid.students.tree import TreeStudent
from hybrid.zoo import load_teacher

ENVS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")
SEEDS = {"train": 1, "held_out": 2, "val": 3, "test": 12345}
LATENCY_STATES = 300


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=list(ENVS), help="environments with a committed teacher (default: all three)")
    p.add_argument("--episodes", type=int, default=100, help="test episodes per row (default 100)")
    p.add_argument("--train-episodes", type=int, default=30, help="teacher episodes for behaviour cloning (default 30)")
    p.add_argument("--budget", type=float, default=90.0, help="AutoDistill seconds per environment (default 90)")
    p.add_argument(
        "--policy",
        default="min-retention:0.99",
        help="AutoDistill selection policy (default min-retention:0.99: the cheapest Pareto student keeping 99%% "
        "of the teacher's return on its own seeded episodes; or knee, min-cost:F, max-fidelity:OPS, ...)",
    )
    p.add_argument(
        "--loop-episodes",
        type=int,
        default=5,
        help="AutoDistill's first paired episodes per Pareto candidate (default 5; more while an interval straddles the bar)",
    )
    p.add_argument("--n-jobs", type=int, default=2, help="AutoDistill workers (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test: few episodes, small grids")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return p.parse_args(argv)


def make_context(env_id: str, args: argparse.Namespace) -> Context:
    teacher = load_teacher(env_id)
    train_eps = 3 if args.quick else args.train_episodes
    train = collect(env_id, teacher, train_eps, SEEDS["train"]).dataset
    held_out = collect(env_id, teacher, 2 if args.quick else 10, SEEDS["held_out"]).dataset
    ctx = Context(
        env_id,
        teacher,
        train,
        held_out,
        args.episodes,
        SEEDS["test"],
        val_episodes=2 if args.quick else 10,
        val_seed=SEEDS["val"],
        dagger_iterations=1 if args.quick else 4,
        dagger_episodes=2 if args.quick else 5,
        rules_dagger_iterations=1 if args.quick else 6,
        rules_dagger_episodes=2 if args.quick else 8,
    )
    baseline_returns(ctx)
    return ctx


def autodistill(ctx: Context, args: argparse.Namespace) -> tuple[Any, str]:
    """AutoDistill's own choice (its declared policy, scored on its own seeded episodes, then its
    DAgger rounds); the table then measures it on the benchmark's separate test episodes."""
    policy = args.policy
    search = AutoDistill(
        budget_s=15.0 if args.quick else args.budget,
        policy=policy,
        seed=0,
        n_jobs=args.n_jobs,
        env=ctx.env_id,
        teacher=ctx.teacher,
        verbose=0,
        dagger_iterations=1 if args.quick else 2,
        closed_loop_episodes=2 if args.quick else args.loop_episodes,
    )
    result = search.fit(ctx.train)
    if result.student is None:
        raise SystemExit(f"{ctx.env_id}: AutoDistill finished no candidate in {search.budget_s:g} s; raise --budget")
    ctx.extra["autodistill"] = {
        "choice": result.choice,
        "candidates": len(result.candidates),
        "search_s": result.search_s,
        "stopped_by": result.stopped_by,
        "closed_loop": result.closed_loop,
        "chosen": result.chosen.to_dict(),
        "shipped": result.shipped.to_dict(),
    }
    return result.student, f"AutoDistill ({policy}): {result.choice}"


def students(ctx: Context, args: argparse.Namespace) -> list[tuple[str, Any, str]]:
    """(row name, fitted student, how it was obtained), in table order."""
    X, P = ctx.train.X, ctx.train.P
    hard = np.eye(P.shape[1], dtype=np.float32)[P.argmax(axis=1)]
    out = [("AutoDistill", *autodistill(ctx, args))]
    rules, how, ctx.extra["rules_grid"] = best_rules(ctx, args.quick)
    out.append(("best rules (≤32)", rules, how))
    hybrid, how, ctx.extra["hybrid_grid"] = best_hybrid(ctx, args.quick)
    out.append(("best hybrid", hybrid, how))
    for depth in (4, 8):
        out.append((f"BC tree d{depth}", TreeStudent(max_depth=depth, criterion="hard").fit(X, P), "behaviour cloning, hard labels"))
    for depth in (4, 8):
        out.append((f"DAgger tree d{depth}", run_dagger(ctx, TreeStudent(max_depth=depth, criterion="hard")), "DAgger, best iterate on validation"))
    out.append(("VIPER tree d8", run_dagger(ctx, TreeStudent(max_depth=8, criterion="hard"), weighting="q"), "Q-weighted DAgger (log-probabilities as Q)"))
    out.append(("BC MLP 32", MLPStudent(hidden_sizes=(32,)).fit(X, hard), "behaviour cloning, hard labels"))
    return out


def run_env(env_id: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    ctx = make_context(env_id, args)
    latency_states = ctx.held_out.X[np.linspace(0, len(ctx.held_out) - 1, min(LATENCY_STATES, len(ctx.held_out))).astype(int)]
    teacher_latency = teacher_latency_s(ctx.teacher, latency_states)
    teacher_row = {
        "name": "teacher",
        "how": f"PPO 2×64 tanh ({ctx.teacher.content_hash[:15]}…)",
        "family": "torch",
        "return_mean": ctx.teacher_return,
        "retention": 1.0,
        "fidelity_held_out": 1.0,
        "fidelity_visited": 1.0,
        "ops_per_decision": float(ctx.teacher.ops_per_decision),
        "ops_share": 1.0,
        "size": f"{sum(p.numel() for p in ctx.teacher.parameters())} p",
        "latency_us": teacher_latency * 1e6,
        "teacher_latency_us": teacher_latency * 1e6,
        "latency_how": "torch forward",
        "speedup_vs_teacher": 1.0,
    }
    rows = [teacher_row] + [measure(ctx, name, s, how, latency_states=latency_states) for name, s, how in students(ctx, args)]
    return {
        "env": env_id,
        "episodes": ctx.episodes,
        "teacher_return": ctx.teacher_return,
        "random_return": ctx.random_return,
        "train_states": len(ctx.train),
        "held_out_states": len(ctx.held_out),
        "rows": rows,
        "seconds": time.monotonic() - t0,
        **ctx.extra,
    }


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result['env']}: {result['episodes']} test episodes, teacher {result['teacher_return']:.1f}, "
        f"random {result['random_return']:.1f} ({result['seconds']:.0f} s)"
    )
    for col in ("student", "return", "retention", "fid held-out", "fid visited", "ops/decision", "% teacher ops", "size", "latency µs", "× faster"):
        table.add_column(col, justify="left" if col in ("student", "size") else "right")
    for r in result["rows"]:
        table.add_row(
            r["name"],
            f"{r['return_mean']:.1f}",
            f"{100 * r['retention']:.1f}%",
            f"{100 * r['fidelity_held_out']:.1f}%",
            f"{100 * r['fidelity_visited']:.1f}%",
            f"{r['ops_per_decision']:.1f}",
            f"{100 * r['ops_share']:.2f}%",
            r["size"] + (f", cov {100 * r['coverage']:.0f}%" if "coverage" in r else ""),
            f"{r['latency_us']:.2f}",
            f"{r['speedup_vs_teacher']:.1f}×",
        )
    console = Console(width=max(150, Console().width))
    console.print(table)
    for r in result["rows"][1:4]:
        console.print(f"  {r['name']}: {r['how']}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.monotonic()
    results = []
    for env_id in args.envs:
        results.append(run_env(env_id, args))
        print_table(results[-1])
    if args.json:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        args.json.write_text(
            json.dumps({"settings": settings, "seeds": SEEDS, "seconds": time.monotonic() - t0, "envs": results}, indent=1, default=float), encoding="utf-8"
        )
    print(f"total {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
