"""Choosing by return when episodes are noisy: does the interval a search reports hold up?

Two measurements, in one run:

* **coverage** — on a stochastic task (default LunarLander-v3 with wind 15), AutoDistill with
  ``min-retention:0.99`` is run with several search seeds; each shipped student is then
  measured on ``--episodes`` fresh test episodes (a seed stream no search used), and the table
  says whether that retention lies inside the interval the search reported for it, and how often.
* **cost of the safeguard** — on the committed tasks, the same search with the old scoring
  (3 episodes per Pareto student, no interval growth) and with the default paired, sequential
  scoring: closed-loop episodes run and search time, side by side.

    python benchmarks/noisy_retention.py --json docs/noisy_retention.json      # ~30 min on 2 cores
    python benchmarks/noisy_retention.py --seeds 1 --budget 20 --episodes 10 --cost-envs CartPole-v1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from auto_search.closed_loop import PairedEpisodes
from auto_search.search import AutoDistill
from hybrid.envs.noise import make_stochastic
from hybrid.loop.rollouts import collect
from hybrid.teachers.zoo import load_teacher

TEST_SEED = 12345  # test episodes: never used by a search


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="LunarLander-v3", help="committed task made stochastic (default LunarLander-v3)")
    p.add_argument("--strength", type=float, default=15.0, help="wind power (LunarLander) or observation-noise sigma (default 15)")
    p.add_argument("--seeds", type=int, default=5, help="search seeds for the coverage table (default 5)")
    p.add_argument("--budget", type=float, default=90.0, help="seconds per search (default 90)")
    p.add_argument("--train-episodes", type=int, default=30, help="teacher episodes to distil from (default 30)")
    p.add_argument("--episodes", type=int, default=100, help="fresh test episodes per shipped student (default 100)")
    p.add_argument("--cost-envs", nargs="*", default=["CartPole-v1", "Acrobot-v1", "LunarLander-v3"], help="tasks for the cost table")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def test_retention(env: Any, teacher: Any, student: Any, episodes: int) -> dict[str, float]:
    """Retention of ``student`` on fresh paired test episodes (the search's own paired scoring,
    on a seed stream no search used, with every episode run)."""
    with PairedEpisodes(env, teacher, seed=TEST_SEED, first=episodes, cap=episodes, confidence=0.95) as test:
        score = test.score(student)
        return {
            "retention": score.retention,
            "low": score.retention_low,
            "high": score.retention_high,
            "student_return": score.return_mean,
            "teacher_return": test.teacher_return,
        }


def coverage(args: argparse.Namespace) -> list[dict[str, Any]]:
    teacher = load_teacher(args.env)
    env = make_stochastic(args.env, args.strength)
    dataset = collect(env, teacher, episodes=args.train_episodes, seed=1).dataset
    rows = []
    for seed in range(args.seeds):
        t0 = time.monotonic()
        result = AutoDistill(budget_s=args.budget, seed=seed, n_jobs=args.n_jobs, env=env, teacher=teacher, verbose=0).fit(dataset)
        search_s = time.monotonic() - t0
        if result.shipped is None:
            print(f"seed {seed}: nothing finished in {args.budget:g} s; raise --budget", flush=True)
            continue
        loop = result.shipped.loop
        test = test_retention(env, teacher, result.student, args.episodes)
        inside = loop["retention_low"] <= test["retention"] <= loop["retention_high"]
        rows.append(
            {
                "seed": seed,
                "shipped": result.shipped.source,
                "family": result.shipped.family,
                "ops": result.shipped.ops_per_decision,
                "reported": [loop["retention"], loop["retention_low"], loop["retention_high"]],
                "reported_episodes": loop["loop_episodes"],
                "test": test,
                "inside": inside,
                "search_s": search_s,
                "choice": result.choice,
            }
        )
        print(
            f"seed {seed}: {result.shipped.family} {result.shipped.ops_per_decision:.1f} ops; reported {100 * loop['retention']:.1f}% "
            f"[{100 * loop['retention_low']:.1f}, {100 * loop['retention_high']:.1f}] over {loop['loop_episodes']} ep.; "
            f"{args.episodes} test episodes {100 * test['retention']:.1f}% → {'inside' if inside else 'OUTSIDE'} ({search_s:.0f} s)",
            flush=True,
        )
    return rows


def safeguard_cost(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for env_id in args.cost_envs:
        teacher = load_teacher(env_id)
        dataset = collect(env_id, teacher, episodes=args.train_episodes, seed=1).dataset
        for name, options in (("before: 3 episodes", {"closed_loop_episodes": 3, "closed_loop_max_episodes": 3}), ("after: paired, sequential", {})):
            t0 = time.monotonic()
            r = AutoDistill(budget_s=args.budget, seed=0, n_jobs=args.n_jobs, env=env_id, teacher=teacher, verbose=0, **options).fit(dataset)
            loop = r.closed_loop
            if r.shipped is None:
                print(f"{env_id}: nothing finished in {args.budget:g} s; raise --budget", flush=True)
                continue
            rows.append(
                {
                    "env": env_id,
                    "scoring": name,
                    "search_s": time.monotonic() - t0,
                    "fit_s": r.fit_s,
                    "loop_s": r.search_s - r.fit_s,
                    "selection_episodes": loop["episodes_run"],
                    "confirmation_episodes": loop["confirmation"]["episodes_run"],
                    "shipped_ops": r.shipped.ops_per_decision,
                    "shipped_retention": r.shipped.loop["retention"],
                    "choice": r.choice,
                }
            )
            print(
                f"{env_id:16s} {name:26s} search {rows[-1]['search_s']:6.1f} s (loop {rows[-1]['loop_s']:5.1f} s), "
                f"{loop['episodes_run']} selection + {loop['confirmation']['episodes_run']} confirmation episodes; "
                f"ships {r.shipped.family} {r.shipped.ops_per_decision:.1f} ops",
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    out["coverage"] = coverage(args)
    hits = sum(r["inside"] for r in out["coverage"])
    print(
        f"\n{args.env} strength {args.strength:g}: the {args.episodes}-episode test retention lay inside the reported interval "
        f"for {hits} of {len(out['coverage'])} search seeds\n"
    )
    out["cost"] = safeguard_cost(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
