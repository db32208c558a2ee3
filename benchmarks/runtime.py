"""Compiled batch decisions and fixed-point exports, measured side by side in one run.

1. Batch of 1M CartPole states on one core: the teacher's batched torch forward against each
   student's numpy ``predict`` and its compiled C batch entry (``hybrid.exports.runtime``),
   nanoseconds per decision and ratios; the compiled decisions are compared with ``predict`` on
   every state. The teacher is timed again beside each student (the machine is shared).
2. Many agents: ``examples/many_agents.py`` (10k CartPole agents in ``gymnasium.make_vec``,
   one decision call per tick): decisions per second and the share of a tick spent deciding.
3. Fixed point, on CartPole and LunarLander: agreement of each fixed-point header (compiled for
   this machine) with the float student on 10k held-out teacher states (for trees and
   axis-aligned rules also on the states no feature of which lies within one quantisation step of
   a bound), the header's tables (flash) and working arrays (RAM), the ``cc -Os`` object size on
   this host (x86-64: a Cortex-M's Thumb-2 code differs) beside the float header's, and
   closed-loop retention of the float and the fixed-point student on the same episodes.

Timings are the best of several repeats; only ratios measured side by side mean anything.

    python benchmarks/runtime.py                          # ~5 min (~10 with --episodes 100) on the shared 2-core machine
    python benchmarks/runtime.py --quick --json out.json  # small batch, few episodes
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _retention_run import UniformPolicy
from _timing import per_call_s
from threadpoolctl import threadpool_limits

from auto_search.closed_loop import retention
from hybrid.exports import export_c
from hybrid.exports.fixed_point import fixed_point_header, near_a_bound
from hybrid.exports.runtime import compile_fixed_point, compile_student
from hybrid.loop.rollouts import collect, evaluate
from hybrid.metrics import fidelity
from hybrid.students import HybridStudent, MLPStudent, RuleListStudent, TreeStudent
from hybrid.teachers.zoo import load_teacher

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_STATES = 10_000
SEEDS = {"train": 1, "held_out": 2, "test": 12345}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=1_000_000, help="states in the batch of section 1 (default 1M)")
    p.add_argument("--agents", type=int, default=10_000, help="agents in section 2 (default 10000)")
    p.add_argument("--ticks", type=int, default=600, help="ticks in section 2 (default 600)")
    p.add_argument("--episodes", type=int, default=30, help="closed-loop episodes per policy in section 3 (default 30)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 100k states, 2000 agents × 50 ticks, 3 episodes")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.agents, args.ticks, args.episodes = 100_000, 2_000, 50, 3
    return args


# -- 1. batch ---------------------------------------------------------------------------------
def batch_section(batch_size: int, repeats: int) -> dict[str, Any]:
    teacher = load_teacher("CartPole-v1")
    train = collect("CartPole-v1", teacher, episodes=20, seed=0, sample=True).dataset
    test = collect("CartPole-v1", teacher, episodes=6, seed=1, sample=True).dataset
    batch = test.X[np.random.default_rng(0).integers(len(test.X), size=batch_size)]
    tensor = torch.from_numpy(batch)
    students = {
        "tree depth 4": TreeStudent(max_depth=4),
        "tree depth 8": TreeStudent(max_depth=8),
        "rules depth 4": RuleListStudent(max_depth=4),
        "rules oblique ≤8": RuleListStudent(max_depth=3, max_rules=8, oblique=True),
        "mlp (4,)": MLPStudent(hidden_sizes=(4,), epochs=30),
        "mlp (32,)": MLPStudent(hidden_sizes=(32,), epochs=30),
        "hybrid τ=0.9": HybridStudent(tau=0.9, rule_depth=4, hidden_sizes=(8,), epochs=30),
    }

    def teacher_batch(t: torch.Tensor) -> None:
        with torch.no_grad():
            teacher(t).argmax(dim=1)

    print(f"1. batch of {batch_size:,} CartPole states, one core: ns per decision (teacher re-timed beside each student)")
    print(
        f"   {'student':20s} {'fidelity':>8s} {'teacher':>9s} {'numpy':>9s} {'compiled':>9s} {'× teacher numpy':>16s} {'× teacher compiled':>19s}  compiled = predict"
    )
    rows = []
    for name, student in students.items():
        student.fit(train.X, train.P)
        compiled = compile_student(student)
        out = np.empty(batch_size, dtype=np.int32)
        teacher_ns = per_call_s(teacher_batch, [tensor], repeats) / batch_size * 1e9
        numpy_ns = per_call_s(student.predict, [batch], repeats) / batch_size * 1e9
        compiled_ns = per_call_s(functools.partial(compiled.predict, out=out), [batch], repeats) / batch_size * 1e9
        equal = bool(np.array_equal(compiled.predict(batch), student.predict(batch)))
        row = {
            "student": name,
            "fidelity": fidelity(test.P, student.predict(test.X)),
            "teacher_ns": teacher_ns,
            "numpy_ns": numpy_ns,
            "compiled_ns": compiled_ns,
            "numpy_speedup": teacher_ns / numpy_ns,
            "compiled_speedup": teacher_ns / compiled_ns,
            "compiled_equals_predict": equal,
            "compiled": compiled.compiled,
        }
        rows.append(row)
        print(
            f"   {name:20s} {row['fidelity']:8.3f} {teacher_ns:9.1f} {numpy_ns:9.1f} {compiled_ns:9.1f} "
            f"{row['numpy_speedup']:15.1f}× {row['compiled_speedup']:18.1f}×  {'every state' if equal else 'NO'}"
        )
    return {"batch": batch_size, "rows": rows}


# -- 2. many agents ---------------------------------------------------------------------------
def many_agents_section(agents: int, ticks: int) -> dict[str, Any]:
    print(f"\n2. examples/many_agents.py --agents {agents} --ticks {ticks}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "agents.json"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "many_agents.py"), "--agents", str(agents), "--ticks", str(ticks), "--json", str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        print("   " + proc.stdout.strip().replace("\n", "\n   "))
        return json.loads(out.read_text())


# -- 3. fixed point ---------------------------------------------------------------------------
def fixed_point_students(env_id: str) -> dict[str, tuple[Any, int]]:
    """(student, weight bits) per row; LunarLander's rule list needs oblique conditions to fly."""
    rules = RuleListStudent(max_depth=4) if env_id == "CartPole-v1" else RuleListStudent(max_depth=6, max_rules=32, oblique=True)
    return {
        "tree depth 8": (TreeStudent(max_depth=8), 8),
        "rules": (rules, 8),
        "mlp (4,) int8": (MLPStudent(hidden_sizes=(4,)), 8),
        "mlp (4,) int16": (MLPStudent(hidden_sizes=(4,)), 16),
        "mlp (32,) int8": (MLPStudent(hidden_sizes=(32,)), 8),
        "mlp (32,) int16": (MLPStudent(hidden_sizes=(32,)), 16),
    }


def object_bytes(header: str, call: str, workdir: Path) -> int:
    """text + data + bss of ``cc -Os -c`` on a unit that includes ``header`` and calls it once."""
    (workdir / "student.h").write_text(header)
    (workdir / "unit.c").write_text(f'#include "student.h"\n{call}\n')
    subprocess.run(["cc", "-std=c99", "-Os", "-c", "-o", str(workdir / "unit.o"), str(workdir / "unit.c")], check=True)
    fields = subprocess.run(["size", str(workdir / "unit.o")], capture_output=True, text=True, check=True).stdout.splitlines()[1].split()
    return int(fields[0]) + int(fields[1]) + int(fields[2])


def fixed_point_section(env_id: str, episodes: int) -> dict[str, Any]:
    teacher = load_teacher(env_id)
    train = collect(env_id, teacher, 30, SEEDS["train"]).dataset
    held_out_eps = 1
    while len(held_out := collect(env_id, teacher, held_out_eps, SEEDS["held_out"]).dataset) < HELD_OUT_STATES:
        held_out_eps *= 2
    X_test = held_out.X[:HELD_OUT_STATES]
    teacher_return = evaluate(env_id, teacher, episodes, SEEDS["test"])[0]
    random_return = evaluate(env_id, UniformPolicy(gym.make(env_id).action_space, SEEDS["test"]), episodes, SEEDS["test"])[0]
    print(
        f"\n3. fixed point, {env_id}: {len(train)} training states, {len(X_test)} held-out; {episodes} test episodes, "
        f"teacher {teacher_return:.1f}, random {random_return:.1f}"
    )
    print(
        f"   {'student':16s} {'agree':>7s} {'agree far':>10s} {'tables B':>9s} {'RAM B':>6s} {'-Os fixed B':>12s} {'-Os float B':>12s}"
        f" {'retention float':>16s} {'fixed':>7s} {'Δ points':>9s}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (student, bits) in fixed_point_students(env_id).items():
            student.fit(train.X, train.P)
            header = fixed_point_header(student, train.X, weight_bits=bits)
            fixed = compile_fixed_point(header)
            agree = fixed.predict(X_test) == student.predict(X_test)
            axis_aligned = isinstance(student, TreeStudent) or (isinstance(student, RuleListStudent) and not student.oblique)
            far = ~near_a_bound(student, header, X_test) if axis_aligned else None
            r_float = retention(evaluate(env_id, student, episodes, SEEDS["test"])[0], teacher_return, random_return)
            r_fixed = retention(evaluate(env_id, fixed, episodes, SEEDS["test"])[0], teacher_return, random_return)
            row = {
                "student": name,
                "weight_bits": bits,
                "agreement": float(agree.mean()),
                "agreement_far_from_bounds": None if far is None else float(agree[far].mean()),
                "share_far_from_bounds": None if far is None else float(far.mean()),
                "frac_bits": list(header.frac_bits),
                "flash_table_bytes": header.flash_bytes,
                "ram_bytes": header.ram_bytes,
                "os_object_bytes_fixed": object_bytes(header.source, "int run(const int16_t *s) { return decide_q(s); }", Path(tmp)),
                "os_object_bytes_float": object_bytes(export_c(student), "int run(const double *s) { return decide(s); }", Path(tmp)),
                "retention_float": r_float,
                "retention_fixed": r_fixed,
                "retention_delta_points": 100 * (r_fixed - r_float),
            }
            rows.append(row)
            far_text = "" if far is None else f"{row['agreement_far_from_bounds']:.2%}"
            print(
                f"   {name:16s} {row['agreement']:7.2%} {far_text:>10s} {header.flash_bytes:9d} {header.ram_bytes:6d} "
                f"{row['os_object_bytes_fixed']:12d} {row['os_object_bytes_float']:12d} {r_float:16.1%} {r_fixed:7.1%} "
                f"{row['retention_delta_points']:+9.1f}"
            )
    return {"env": env_id, "episodes": episodes, "teacher_return": teacher_return, "random_return": random_return, "held_out_states": len(X_test), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS on one core too
    t0 = time.monotonic()
    result = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seeds": SEEDS,
        "batch": batch_section(args.batch, 2 if args.quick else 3),
        "many_agents": many_agents_section(args.agents, args.ticks),
        "fixed_point": [fixed_point_section(env_id, args.episodes) for env_id in ("CartPole-v1", "LunarLander-v3")],
    }
    result["seconds"] = time.monotonic() - t0
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"\ntotal {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
