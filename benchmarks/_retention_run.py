"""The run both retention benchmarks share: options, per-environment material, AutoDistill's own
choice, the table and the JSON.

``retention.py`` (discrete actions) and ``retention_continuous.py`` (continuous actions) differ
only in their peers (``students``), how a row is measured (``measure``) and the table's columns;
each passes those to ``main``. The random baseline of retention draws actions uniformly from the
environment's action space (one of ``n`` actions, or uniformly in the ``Box``), seeded.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _retention_peers import Context

from auto_search.search import AutoDistill
from hybrid.loop.rollouts import closed_loop, collect
from hybrid.teachers.zoo import load_teacher

SEEDS = {"train": 1, "held_out": 2, "val": 3, "test": 12345}
Row = dict[str, Any]
Column = tuple[str, Callable[[Row], str]]  # header, cell text


class UniformPolicy:
    """The random baseline of retention: actions drawn uniformly from the action space, seeded."""

    def __init__(self, space: gym.Space, seed: int) -> None:
        self.space = space
        self.action_kind = "continuous" if isinstance(space, gym.spaces.Box) else "discrete"
        self.rng = np.random.default_rng(seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        n = np.asarray(X).shape[0]
        if isinstance(self.space, gym.spaces.Box):
            low, high = self.space.low.astype(np.float64), self.space.high.astype(np.float64)
            return self.rng.uniform(low, high, size=(n, len(low)))
        return self.rng.integers(0, self.space.n, size=n)


def parse_args(doc: str, envs: list[str], loop_episodes: int, argv: list[str] | None) -> argparse.Namespace:
    """The options both benchmarks take; ``envs`` and ``loop_episodes`` are their defaults."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=envs, help=f"environments with a committed teacher (default: {' '.join(envs)})")
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
        default=loop_episodes,
        help=f"AutoDistill's first paired episodes per Pareto candidate (default {loop_episodes}; more while an interval straddles the bar)",
    )
    p.add_argument("--n-jobs", type=int, default=2, help="AutoDistill workers (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test: few episodes, small grids")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return p.parse_args(argv)


def make_context(env_id: str, args: argparse.Namespace) -> Context:
    """Teacher, training and held-out rollouts, episode counts and seeds, and the test baselines."""
    teacher = load_teacher(env_id)
    ctx = Context(
        env_id,
        teacher,
        collect(env_id, teacher, 3 if args.quick else args.train_episodes, SEEDS["train"]).dataset,
        collect(env_id, teacher, 2 if args.quick else 10, SEEDS["held_out"]).dataset,
        args.episodes,
        SEEDS["test"],
        val_episodes=2 if args.quick else 10,
        val_seed=SEEDS["val"],
        dagger_iterations=1 if args.quick else 4,
        dagger_episodes=2 if args.quick else 5,
        rules_dagger_iterations=1 if args.quick else 6,
        rules_dagger_episodes=2 if args.quick else 8,
    )
    ctx.teacher_return = closed_loop(env_id, teacher, ctx.episodes, ctx.test_seed).mean_return
    space = gym.make(env_id).action_space
    ctx.random_return = closed_loop(env_id, UniformPolicy(space, ctx.test_seed), ctx.episodes, ctx.test_seed).mean_return
    return ctx


def autodistill(ctx: Context, args: argparse.Namespace, quick_budget: float) -> tuple[Any, str]:
    """AutoDistill's own choice (its declared policy, scored on its own seeded episodes, then its
    DAgger rounds); the table then measures it on the benchmark's separate test episodes."""
    search = AutoDistill(
        budget_s=min(args.budget, quick_budget) if args.quick else args.budget,
        policy=args.policy,
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
    return result.student, f"AutoDistill ({args.policy}): {result.choice}"


def teacher_row(ctx: Context) -> Row:
    """The teacher's row: the reference every share is of."""
    return {
        "name": "teacher",
        "how": f"{ctx.teacher.content_hash[:15]}…",
        "family": "torch",
        "return_mean": ctx.teacher_return,
        "retention": 1.0,
        "fidelity_held_out": 1.0,
        "fidelity_visited": 1.0,
        "ops_per_decision": float(ctx.teacher.ops_per_decision),
        "ops_share": 1.0,
        "size": f"{sum(p.numel() for p in ctx.teacher.parameters())} p",
    }


def env_result(ctx: Context, rows: list[Row], t0: float) -> dict[str, Any]:
    """One environment's figures as the JSON holds them."""
    return {
        "env": ctx.env_id,
        "episodes": ctx.episodes,
        "teacher_return": ctx.teacher_return,
        "random_return": ctx.random_return,
        "train_states": len(ctx.train),
        "held_out_states": len(ctx.held_out),
        "rows": rows,
        "seconds": time.monotonic() - t0,
        **ctx.extra,
    }


LEAD_COLUMNS: list[Column] = [
    ("student", lambda r: r["name"]),
    ("return", lambda r: f"{r['return_mean']:.1f}"),
    ("retention", lambda r: f"{100 * r['retention']:.1f}%"),
    ("fid held-out", lambda r: f"{100 * r['fidelity_held_out']:.1f}%"),
    ("fid visited", lambda r: f"{100 * r['fidelity_visited']:.1f}%"),
]


def cost_columns(share_digits: int) -> list[Column]:
    """Operations per decision and their share of the teacher's, with ``share_digits`` decimals."""
    return [("ops/decision", lambda r: f"{r['ops_per_decision']:.1f}"), ("% teacher ops", lambda r: f"{100 * r['ops_share']:.{share_digits}f}%")]


def print_table(result: dict[str, Any], columns: list[Column], notes: int = 3) -> Any:
    """The table of one environment and how its first ``notes`` students were obtained; returns
    the console for more lines after it."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result['env']}: {result['episodes']} test episodes, teacher {result['teacher_return']:.1f}, "
        f"random {result['random_return']:.1f} ({result['seconds']:.0f} s)"
    )
    for head, _ in columns:
        table.add_column(head, justify="left" if head in ("student", "size") else "right")
    for r in result["rows"]:
        table.add_row(*(cell(r) for _, cell in columns))
    console = Console(width=max(150, Console().width))
    console.print(table)
    for r in result["rows"][1 : 1 + notes]:
        console.print(f"  {r['name']}: {r['how']}", highlight=False)
    return console


def main(args: argparse.Namespace, run_env: Callable[[str, argparse.Namespace], dict[str, Any]], show: Callable[[dict[str, Any]], None]) -> int:
    """Run every environment, show its table, and write the JSON when asked."""
    torch.set_num_threads(1)
    t0 = time.monotonic()
    results = []
    for env_id in args.envs:
        results.append(run_env(env_id, args))
        show(results[-1])
    if args.json:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        args.json.write_text(
            json.dumps({"settings": settings, "seeds": SEEDS, "seconds": time.monotonic() - t0, "envs": results}, indent=1, default=float), encoding="utf-8"
        )
    print(f"total {time.monotonic() - t0:.0f} s")
    return 0
