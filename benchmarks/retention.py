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
import time
from typing import Any

import numpy as np
from _retention_peers import Context, best_hybrid, best_rules, measure, run_dagger, teacher_latency_s
from _retention_run import LEAD_COLUMNS, autodistill, cost_columns, env_result, main, make_context, parse_args, print_table, teacher_row

from hybrid.students.mlp import MLPStudent
from hybrid.students.tree import TreeStudent

ENVS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")
LATENCY_STATES = 300


def students(ctx: Context, args: argparse.Namespace) -> list[tuple[str, Any, str]]:
    """(row name, fitted student, how it was obtained), in table order."""
    X, P = ctx.train.X, ctx.train.P
    hard = np.eye(P.shape[1], dtype=np.float32)[P.argmax(axis=1)]
    out = [("AutoDistill", *autodistill(ctx, args, quick_budget=15.0))]
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
    teacher = {
        **teacher_row(ctx),
        "how": f"PPO 2×64 tanh ({ctx.teacher.content_hash[:15]}…)",
        "latency_us": teacher_latency * 1e6,
        "teacher_latency_us": teacher_latency * 1e6,
        "latency_how": "torch forward",
        "speedup_vs_teacher": 1.0,
    }
    rows = [teacher] + [measure(ctx, name, s, how, latency_states=latency_states) for name, s, how in students(ctx, args)]
    return env_result(ctx, rows, t0)


COLUMNS = [
    *LEAD_COLUMNS,
    *cost_columns(2),
    ("size", lambda r: r["size"] + (f", cov {100 * r['coverage']:.0f}%" if "coverage" in r else "")),
    ("latency µs", lambda r: f"{r['latency_us']:.2f}"),
    ("× faster", lambda r: f"{r['speedup_vs_teacher']:.1f}×"),
]


if __name__ == "__main__":
    raise SystemExit(main(parse_args(__doc__, list(ENVS), 5, None), run_env, lambda result: print_table(result, COLUMNS)))
