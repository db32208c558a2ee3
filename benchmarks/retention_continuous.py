"""Retention of continuous-action students against their SAC/PPO teachers (Pendulum,
MountainCarContinuous, LunarLanderContinuous).

For each environment, all measured in the same run on the same test episodes: the committed
teacher; AutoDistill's own choice (by default the cheapest Pareto student keeping 99% of the
teacher's return on AutoDistill's own seeded episodes, then its DAgger rounds); the best readable
student (a rule list with linear actions, ≤ 32 rules, chosen on validation episodes: the fewest
rules keeping 99% there, else the best there); the same with oblique conditions (a weighted sum
of up to three features); a CART model tree with ≤ 32 linear leaves (same choice); and the peers a user would try instead: behaviour-cloned
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
import time
from typing import Any

import gymnasium as gym
from _retention_peers import Context
from _retention_run import LEAD_COLUMNS, UniformPolicy, autodistill, cost_columns, env_result, main, make_context, parse_args, print_table, teacher_row

from auto_search.closed_loop import retention
from hybrid.loop.dagger import dagger_continuous
from hybrid.loop.rollouts import closed_loop
from hybrid.metrics import action_fidelity, normalised_mse
from hybrid.students import LinearRuleListStudent, MLPRegressorStudent, RegressionTreeStudent
from hybrid.students._base import fit_dataset as fit_continuous
from hybrid.students._split_tree import LeafTree
from hybrid.teachers.zoo import available_teachers

ENVS = ("Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3")
RULE_GRID = (4, 8, 16, 32)
READABLE_ROWS = 3  # after AutoDistill: rules, oblique rules, model tree (chosen on validation episodes)


def val_baselines(ctx: Context) -> None:
    """Teacher and random returns on the validation episodes (the scale of ``val_retention``)."""
    space = gym.make(ctx.env_id).action_space
    ctx.extra["val_teacher_return"] = closed_loop(ctx.env_id, ctx.teacher, ctx.val_episodes, ctx.val_seed).mean_return
    ctx.extra["val_random_return"] = closed_loop(ctx.env_id, UniformPolicy(space, ctx.val_seed), ctx.val_episodes, ctx.val_seed).mean_return


def val_retention(ctx: Context, student: Any) -> float:
    """Retention on the validation episodes (used to choose; never reported as a test figure)."""
    r = closed_loop(ctx.env_id, student, ctx.val_episodes, ctx.val_seed).mean_return
    return retention(r, ctx.extra["val_teacher_return"], ctx.extra["val_random_return"])


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


def students(ctx: Context, args: argparse.Namespace) -> list[tuple[str, Any, str]]:
    """(row name, fitted student, how it was obtained), in table order."""
    grid = RULE_GRID[:2] if args.quick else RULE_GRID
    out = [("AutoDistill", *autodistill(ctx, args, quick_budget=40.0))]
    rules, how, ctx.extra["rules_grid"] = choose_readable(ctx, lambda n: LinearRuleListStudent(max_rules=n), grid)
    out.append(("best rules (≤32, linear)", rules, "linear_rules: " + how))
    oblique, how, ctx.extra["oblique_rules_grid"] = choose_readable(ctx, lambda n: LinearRuleListStudent(max_rules=n, oblique=True), grid)
    out.append(("oblique rules (≤32, linear)", oblique, "linear_rules, oblique: " + how))
    tree, how, ctx.extra["model_tree_grid"] = choose_readable(ctx, lambda n: RegressionTreeStudent(max_depth=None, max_leaf_nodes=n, leaf_model="linear"), grid)
    out.append(("CART, linear leaves (≤32)", tree, "regression_tree: " + how))
    for depth in (4, 8):
        out.append((f"BC tree d{depth}", fit_continuous(RegressionTreeStudent(max_depth=depth), ctx.train), "behaviour cloning, constant leaves"))
    for depth in (4, 8):
        result = dagger_continuous(
            ctx.env_id,
            ctx.teacher,
            RegressionTreeStudent(max_depth=depth),
            iterations=ctx.dagger_iterations,
            episodes_per_iteration=ctx.dagger_episodes,
            seed=ctx.val_seed,
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
    run = closed_loop(ctx.env_id, student, ctx.episodes, ctx.test_seed, teacher=ctx.teacher)
    held = ctx.held_out
    predicted = student.predict(held.X)
    ops = float(student.cost().ops_per_decision)
    return {
        "name": name,
        "how": how,
        "family": student.family,
        "return_mean": run.mean_return,
        "return_std": run.std_return,
        "retention": retention(run.mean_return, ctx.teacher_return, ctx.random_return),
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
    val_baselines(ctx)
    rows = [{**teacher_row(ctx), "nmse_held_out": 0.0}] + [measure(ctx, name, s, how) for name, s, how in students(ctx, args)]
    return env_result(ctx, rows, t0)


COLUMNS = [*LEAD_COLUMNS, ("nMSE", lambda r: f"{r['nmse_held_out']:.4f}"), *cost_columns(3), ("size", lambda r: r["size"])]


def show(result: dict[str, Any]) -> None:
    """The table, how each chosen row was chosen, and the readable rows' rules."""
    console = print_table(result, COLUMNS, notes=1 + READABLE_ROWS)
    for r in result["rows"][2 : 1 + READABLE_ROWS]:
        console.print(f"  {r['name']} rules:", highlight=False)
        for rule in r["rules"] or []:
            console.print(f"    {rule}", highlight=False)


if __name__ == "__main__":
    raise SystemExit(main(parse_args(__doc__, [e for e in ENVS if e in available_teachers()], 10, None), run_env, show))
