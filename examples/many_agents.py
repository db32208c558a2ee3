"""Thousands of agents at once: one student call per tick decides for every agent of a vectorised env.

Distils the committed teacher into a student (a depth-8 tree by default), compiles its C batch
entry (``hybrid.exports.runtime``), then steps ``--agents`` copies of the environment together
(``gymnasium.make_vec``, through the environment's own vector entry point where it has one, as
CartPole does) for ``--ticks`` ticks three times, with the same seed: driven by the teacher's
batched torch forward, by the student's numpy ``predict``, and by the compiled student. Each run
times deciding and stepping apart and prints decisions per second, the share of a tick spent
deciding, and the mean return of the episodes finished. Everything runs on one core.

    python examples/many_agents.py                         # 10,000 CartPole agents, 600 ticks, ~30 s
    python examples/many_agents.py --agents 2000 --ticks 50 --student rules --json out.json
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
from threadpoolctl import threadpool_limits

from hybrid.exports.runtime import compile_student
from hybrid.loop.rollouts import collect
from hybrid.metrics import fidelity
from hybrid.students import MLPStudent, RuleListStudent, TreeStudent
from hybrid.teachers.zoo import available_teachers, load_teacher

STUDENTS = {
    "tree": ("tree depth 8", lambda: TreeStudent(max_depth=8)),
    "rules": ("oblique rules (≤ 8)", lambda: RuleListStudent(max_depth=3, max_rules=8, oblique=True)),
    "mlp": ("MLP (4,)", lambda: MLPStudent(hidden_sizes=(4,), epochs=30)),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python examples/many_agents.py --agents 10000 --ticks 600 --student tree",
    )
    p.add_argument("--env", default="CartPole-v1", help="an environment with a committed teacher (default CartPole-v1)")
    p.add_argument("--agents", type=int, default=10_000, help="agents stepped together (default 10000)")
    p.add_argument("--ticks", type=int, default=600, help="ticks per run (default 600: every CartPole agent ends an episode)")
    p.add_argument("--student", choices=sorted(STUDENTS), default="tree", help="student family (default tree)")
    p.add_argument("--episodes", type=int, default=20, help="teacher episodes to distil from (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.env not in available_teachers():
        p.error(f"no committed teacher for {args.env!r}; choose one of {available_teachers()}")
    if args.agents < 1 or args.ticks < 1 or args.episodes < 1:
        p.error("--agents, --ticks and --episodes must be ≥ 1")
    return args


def make_agents(env_id: str, agents: int) -> tuple[gym.vector.VectorEnv, str]:
    """The vectorised environment, through its vector entry point when it has one."""
    mode = "vector_entry_point" if gym.spec(env_id).vector_entry_point else "sync"
    return gym.make_vec(env_id, num_envs=agents, vectorization_mode=mode), mode


def run(env_id: str, agents: int, ticks: int, seed: int, decide: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """Step every agent ``ticks`` times with one ``decide(states)`` call per tick; time both apart."""
    envs, _ = make_agents(env_id, agents)
    states, _ = envs.reset(seed=seed)
    running, finished = np.zeros(agents), []
    decide_s = step_s = 0.0
    for _ in range(ticks):
        t0 = time.perf_counter()
        actions = decide(states)
        t1 = time.perf_counter()
        states, rewards, terminated, truncated, _ = envs.step(actions)
        step_s += time.perf_counter() - t1
        decide_s += t1 - t0
        running += rewards
        done = terminated | truncated
        finished += running[done].tolist()
        running[done] = 0.0
    envs.close()
    return {
        "decisions_per_s": agents * ticks / decide_s,
        "decide_s": decide_s,
        "step_s": step_s,
        "share_deciding": decide_s / (decide_s + step_s),
        "episodes": len(finished),
        "mean_return": float(np.mean(finished)) if finished else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # one core for every policy
    threadpool_limits(1)  # numpy's BLAS included
    teacher = load_teacher(args.env)
    name, make = STUDENTS[args.student]
    data = collect(args.env, teacher, args.episodes, args.seed).dataset
    held_out = collect(args.env, teacher, 3, args.seed + 1).dataset
    student = make().fit(data.X, data.P)
    compiled = compile_student(student)
    _, mode = make_agents(args.env, 1)
    print(
        f"{args.env}: {args.agents:,} agents × {args.ticks} ticks, make_vec mode {mode!r}, one core; student {name}, "
        f"fidelity {fidelity(held_out.P, student.predict(held_out.X)):.3f} on held-out teacher states"
        f"{'' if compiled.compiled else ' (no C compiler: the compiled row runs numpy)'}\n"
    )

    def teacher_decides(states: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return teacher(torch.from_numpy(states)).argmax(dim=1).numpy()

    policies = {"teacher (torch, batched)": teacher_decides, "student, numpy predict": student.predict, "student, compiled C": compiled.predict}
    rows = {label: run(args.env, args.agents, args.ticks, args.seed, decide) for label, decide in policies.items()}
    base = rows["teacher (torch, batched)"]["decisions_per_s"]
    print(f"{'policy':26s} {'decisions/s':>14s} {'× teacher':>10s} {'share of tick deciding':>24s} {'mean return (episodes)':>24s}")
    for label, r in rows.items():
        ret = "n/a (none finished)" if r["mean_return"] is None else f"{r['mean_return']:.1f} ({r['episodes']})"
        print(f"{label:26s} {r['decisions_per_s']:14,.0f} {r['decisions_per_s'] / base:9.1f}× {r['share_deciding']:23.1%} {ret:>24s}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"env": args.env, "agents": args.agents, "ticks": args.ticks, "mode": mode, "student": name, "compiled": compiled.compiled, "rows": rows},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
