"""Retention of continuous-action students against their SAC/PPO teachers (Pendulum,
MountainCarContinuous, LunarLanderContinuous).

For each environment, all measured in the same run on the same test episodes: the committed
teacher; AutoDistill's own choice (by default the cheapest Pareto student keeping 99% of the
teacher's return on AutoDistill's own seeded episodes, then its DAgger rounds); the best readable student (a rule list with linear actions, ≤ 32 rules, chosen on
validation episodes: the fewest rules keeping 99% there, else the best there); a CART model tree
with ≤ 32 linear leaves (same choice); and the peers a user would try instead: behaviour-cloned
regression trees (depth 4, 8, constant leaves), the same with DAgger, and an MLP regressor
cloned on the teacher's actions.

Columns: mean return over ``--episodes`` test episodes; retention = (R − R_random) /
(R_teacher − R_random), R_random from actions drawn uniformly in the action ``Box`` on the same
episodes; fidelity = share of states whose every action dimension is within 5% of its range of
the teacher's (``hybrid.metrics.DEFAULT_TOLERANCE``), on held-out teacher states and on the
states the student itself visits; normalised MSE on held-out states; operations per decision
(comparisons + multiply-adds) and their share of the teacher's multiply-adds; size. Seeds:
training rollouts, held-out rollouts, validation episodes and test episodes all differ.

    python benchmarks/retention_continuous.py                        # all three, 100 test episodes
    python benchmarks/retention_continuous.py --envs Pendulum-v1 --episodes 5 --quick --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from auto_search.search import AutoDistill
from hybrid.dagger_continuous import dagger_continuous
from hybrid.metrics import action_fidelity, normalised_mse
from hybrid.rollouts import closed_loop, collect
from hybrid.students import LinearRuleListStudent, MLPRegressorStudent, RegressionTreeStudent
from hybrid.students._regressor import LeafTree, fit_continuous
from hybrid.zoo import available_teachers, load_teacher

ENVS = ("Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3")
SEEDS = {"train": 1, "held_out": 2, "val": 3, "test": 12345}
RULE_GRID = (4, 8, 16, 32)


class UniformBoxPolicy:
    """Actions drawn uniformly in the action ``Box`` (seeded): the retention scale's zero."""

    action_kind = "continuous"

    def __init__(self, space: gym.spaces.Box, seed: int) -> None:
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.rng = np.random.default_rng(seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, size=(len(X), len(self.low)))


@dataclass
class Context:
    """One environment's fixed material: teacher, data, episode counts, seeds and baselines."""

    env_id: str
    teacher: Any
    train: Any
    held_out: Any
    episodes: int
    val_episodes: int
    teacher_return: float = 0.0
    random_return: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def retention(self, value: float) -> float:
        return (value - self.random_return) / (self.teacher_return - self.random_return)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--envs",
        nargs="+",
        default=[e for e in ENVS if e in available_teachers()],
        help="environments with a committed continuous teacher (default: those of the three that exist)",
    )
    p.add_argument("--episodes", type=int, default=100, help="test episodes per row (default 100)")
    p.add_argument("--train-episodes", type=int, default=30, help="teacher episodes for behaviour cloning (default 30)")
    p.add_argument("--budget", type=float, default=90.0, help="AutoDistill seconds per environment (default 90)")
    p.add_argument("--policy", default="min-retention:0.99", help="AutoDistill selection policy (default min-retention:0.99)")
    p.add_argument("--loop-episodes", type=int, default=10, help="AutoDistill's closed-loop episodes per Pareto candidate (default 10)")
    p.add_argument("--n-jobs", type=int, default=2, help="AutoDistill workers (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return p.parse_args(argv)


def make_context(env_id: str, args: argparse.Namespace) -> Context:
    teacher = load_teacher(env_id)
    train = collect(env_id, teacher, 3 if args.quick else args.train_episodes, SEEDS["train"]).dataset
    held_out = collect(env_id, teacher, 2 if args.quick else 10, SEEDS["held_out"]).dataset
    ctx = Context(env_id, teacher, train, held_out, args.episodes, 2 if args.quick else 10)
    ctx.teacher_return = closed_loop(env_id, teacher, ctx.episodes, SEEDS["test"]).mean_return
    space = gym.make(env_id).action_space
    ctx.random_return = closed_loop(env_id, UniformBoxPolicy(space, SEEDS["test"]), ctx.episodes, SEEDS["test"]).mean_return
    ctx.extra["val_teacher_return"] = closed_loop(env_id, teacher, ctx.val_episodes, SEEDS["val"]).mean_return
    ctx.extra["val_random_return"] = closed_loop(env_id, UniformBoxPolicy(space, SEEDS["val"]), ctx.val_episodes, SEEDS["val"]).mean_return
    return ctx


def val_retention(ctx: Context, student: Any) -> float:
    """Retention on the validation episodes (used to choose; never reported as a test figure)."""
    r = closed_loop(ctx.env_id, student, ctx.val_episodes, SEEDS["val"]).mean_return
    t, z = ctx.extra["val_teacher_return"], ctx.extra["val_random_return"]
    return (r - z) / (t - z)


def choose_readable(ctx: Context, make: Any, grid: tuple[int, ...]) -> tuple[Any, str, list[dict[str, Any]]]:
    """Fit ``make(size)`` for each size, score on validation episodes; the fewest rules with ≥ 99%
    there, else the best there."""
    tried = []
    for size in grid:
        student = fit_continuous(make(size), ctx.train)
        tried.append({"size": size, "val_retention": val_retention(ctx, student), "student": student})
    passing = [t for t in tried if t["val_retention"] >= 0.99]
    pick = passing[0] if passing else max(tried, key=lambda t: t["val_retention"])
    how = f"{pick['size']} max, validation retention {100 * pick['val_retention']:.1f}% ({'fewest ≥ 99%' if passing else 'best; none reached 99%'})"
    return pick["student"], how, [{k: v for k, v in t.items() if k != "student"} for t in tried]


def autodistill(ctx: Context, args: argparse.Namespace) -> tuple[Any, str]:
    """AutoDistill's own choice (its declared policy on its own seeded episodes, then DAgger)."""
    search = AutoDistill(
        budget_s=min(args.budget, 40.0) if args.quick else args.budget,
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
        "stopped_by": result.stopped_by,
        "closed_loop": result.closed_loop,
    }
    return result.student, f"AutoDistill ({args.policy}): {result.choice}"


def students(ctx: Context, args: argparse.Namespace) -> list[tuple[str, Any, str]]:
    """(row name, fitted student, how it was obtained), in table order."""
    grid = RULE_GRID[:2] if args.quick else RULE_GRID
    out = [("AutoDistill", *autodistill(ctx, args))]
    rules, how, ctx.extra["rules_grid"] = choose_readable(ctx, lambda n: LinearRuleListStudent(max_rules=n), grid)
    out.append(("best rules (≤32, linear)", rules, "linear_rules: " + how))
    tree, how, ctx.extra["model_tree_grid"] = choose_readable(ctx, lambda n: RegressionTreeStudent(max_depth=None, max_leaf_nodes=n, leaf_model="linear"), grid)
    out.append(("CART, linear leaves (≤32)", tree, "regression_tree: " + how))
    for depth in (4, 8):
        out.append((f"BC tree d{depth}", fit_continuous(RegressionTreeStudent(max_depth=depth), ctx.train), "behaviour cloning, constant leaves"))
    for depth in (4, 8):
        result = dagger_continuous(
            ctx.env_id,
            ctx.teacher,
            RegressionTreeStudent(max_depth=depth),
            iterations=1 if args.quick else 4,
            episodes_per_iteration=2 if args.quick else 5,
            seed=SEEDS["val"],
            eval_episodes=ctx.val_episodes,
            dataset=ctx.train,
        )
        out.append((f"DAgger tree d{depth}", result.student, f"DAgger, iterate {result.best_iteration} best on validation"))
    mlp = MLPRegressorStudent(hidden_sizes=(32,), epochs=20 if args.quick else 200)
    out.append(("BC MLP 32", fit_continuous(mlp, ctx.train), "behaviour cloning, tanh-squashed"))
    return out


def size_of(student: Any) -> str:
    if isinstance(student, LinearRuleListStudent):
        return f"{student.n_leaves_} rules"
    if hasattr(student, "coverage_"):
        return f"{int(student.enabled_.sum())} rules + {0 if student.mlp_ is None else student.mlp_.cost().parameters} p"
    if isinstance(student, LeafTree):
        return f"{student.n_leaves_} leaves"
    return f"{int(student.cost().parameters)} p"


def measure(ctx: Context, name: str, student: Any, how: str) -> dict[str, Any]:
    """Everything a row shows, measured on the test episodes and the held-out states."""
    run = closed_loop(ctx.env_id, student, ctx.episodes, SEEDS["test"], teacher=ctx.teacher)
    held = ctx.held_out
    predicted = student.predict(held.X)
    ops = float(student.cost().ops_per_decision)
    return {
        "name": name,
        "how": how,
        "family": student.family,
        "return_mean": run.mean_return,
        "return_std": run.std_return,
        "retention": ctx.retention(run.mean_return),
        "fidelity_held_out": action_fidelity(held.P, predicted, held.action_low, held.action_high),
        "fidelity_visited": run.agreement,
        "nmse_held_out": normalised_mse(held.P, predicted, held.action_low, held.action_high),
        "ops_per_decision": ops,
        "ops_share": ops / ctx.teacher.ops_per_decision,
        "size": size_of(student),
        "rules": student.rules() if hasattr(student, "rules") else None,
    }


def run_env(env_id: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    ctx = make_context(env_id, args)
    teacher_row = {
        "name": "teacher",
        "how": f"{ctx.teacher.content_hash[:15]}…",
        "family": "torch",
        "return_mean": ctx.teacher_return,
        "retention": 1.0,
        "fidelity_held_out": 1.0,
        "fidelity_visited": 1.0,
        "nmse_held_out": 0.0,
        "ops_per_decision": float(ctx.teacher.ops_per_decision),
        "ops_share": 1.0,
        "size": f"{sum(p.numel() for p in ctx.teacher.parameters())} p",
    }
    rows = [teacher_row] + [measure(ctx, name, s, how) for name, s, how in students(ctx, args)]
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
    for col in ("student", "return", "retention", "fid held-out", "fid visited", "nMSE", "ops/decision", "% teacher ops", "size"):
        table.add_column(col, justify="left" if col in ("student", "size") else "right")
    for r in result["rows"]:
        table.add_row(
            r["name"],
            f"{r['return_mean']:.1f}",
            f"{100 * r['retention']:.1f}%",
            f"{100 * r['fidelity_held_out']:.1f}%",
            f"{100 * r['fidelity_visited']:.1f}%",
            f"{r['nmse_held_out']:.4f}",
            f"{r['ops_per_decision']:.1f}",
            f"{100 * r['ops_share']:.3f}%",
            r["size"],
        )
    console = Console(width=max(150, Console().width))
    console.print(table)
    for r in result["rows"][1:4]:
        console.print(f"  {r['name']}: {r['how']}", highlight=False)
    best = result["rows"][2]
    console.print(f"  {best['name']} rules:", highlight=False)
    for rule in best["rules"] or []:
        console.print(f"    {rule}", highlight=False)


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
