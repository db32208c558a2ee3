"""Speed of students against scikit-learn, torch and the teacher, as ratios measured in one run.

Data: the committed CartPole-v1 teacher's own greedy rollouts (hybrid.loop.rollouts.collect) for
fitting, and its states for timing. Prints three tables:

1. one decision: the exported Python function of a depth-8 tree vs scikit-learn ``predict`` on
   one row (issue 3 aims ≥ 100×); the MLP's numpy path vs a torch forward (aim ≥ 3×);
2. one decision of each student's exported Python (and compiled C, when ``cc`` exists) vs the
   teacher's torch forward on one state;
3. per-decision cost in a batch of 100k states (numpy ``predict`` vs the teacher's batched
   torch forward), beside each student's deterministic operations per decision.

Timings are the best of several repeats of a timed loop (less noise from the other engineers'
processes on this machine); only ratios measured side by side here mean anything. The C column
is the throughput of a tight ``cc -O2`` loop over 2,000 states, so branch prediction and
pipelining make it optimistic for one isolated call.

    python benchmarks/students.py             # about a minute on one core
    python benchmarks/students.py --quick     # fewer repeats
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _timing import per_call_s

from hybrid.exports import export_c, export_python
from hybrid.loop.rollouts import collect
from hybrid.metrics import fidelity
from hybrid.students import HybridStudent, MLPStudent, RuleListStudent, TreeStudent
from hybrid.teachers.zoo import load_teacher

BATCH = 100_000
C_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "student.h"
int main(int argc, char **argv) {
    int n = atoi(argv[1]), reps = atoi(argv[2]), d = %d, i, r, sink = 0;
    double *s = malloc(sizeof(double) * n * d), best = 1e30;
    for (i = 0; i < n * d; ++i) if (scanf("%%lf", s + i) != 1) return 2;
    for (r = 0; r < reps; ++r) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (i = 0; i < n; ++i) sink += decide(s + (size_t)i * d);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
        if (ns < best) best = ns;
    }
    printf("%%f %%d\n", best, sink);
    return 0;
}
"""


def import_module(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def c_ns_per_decision(student: Any, states: np.ndarray, workdir: Path, repeats: int) -> float | None:
    """Nanoseconds per ``decide`` of the compiled C header (cc -O2), or None without a compiler."""
    if shutil.which("cc") is None:
        return None
    export_c(student, workdir / "student.h")
    (workdir / "main.c").write_text(C_MAIN % states.shape[1])
    subprocess.run(["cc", "-std=c99", "-O2", "-o", str(workdir / "main"), str(workdir / "main.c"), "-lm"], check=True)
    text = "\n".join(" ".join(repr(v) for v in row) for row in states.tolist())
    out = subprocess.run([str(workdir / "main"), str(len(states)), str(repeats)], input=text, capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a quick look")
    args = parser.parse_args()
    repeats, calls = (3, 500) if args.quick else (7, 2000)
    torch.set_num_threads(1)

    teacher = load_teacher("CartPole-v1")
    train = collect("CartPole-v1", teacher, episodes=20, seed=0, sample=True).dataset
    test = collect("CartPole-v1", teacher, episodes=6, seed=1, sample=True).dataset
    X, P, X_test, P_test = train.X, train.P, test.X, test.P
    rows = [X_test[i] for i in range(calls)]
    row_lists = [r.tolist() for r in rows]
    row_tensors = [torch.from_numpy(r[None, :].copy()) for r in rows]
    print(
        f"CartPole-v1 teacher: {teacher.ops_per_decision} multiply-adds per decision; "
        f"{len(X)} training states, {len(X_test)} held-out; python {sys.version.split()[0]}, torch {torch.__version__}\n"
    )

    def teacher_forward(t: torch.Tensor) -> int:
        with torch.no_grad():
            return int(teacher(t).argmax())

    teacher_s = per_call_s(teacher_forward, row_tensors, repeats)

    students = {
        "tree depth 4": TreeStudent(max_depth=4),
        "tree depth 8": TreeStudent(max_depth=8),
        "rules depth 4": RuleListStudent(max_depth=4),
        "rules oblique ≤8": RuleListStudent(max_depth=3, max_rules=8, oblique=True),
        "mlp (4,)": MLPStudent(hidden_sizes=(4,), epochs=30),
        "mlp (32,)": MLPStudent(hidden_sizes=(32,), epochs=30),
        "hybrid τ=0.9": HybridStudent(tau=0.9, rule_depth=4, hidden_sizes=(8,), epochs=30),
    }
    for student in students.values():
        student.fit(X, P)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        modules = {name: import_module(export_python(s, workdir / f"s{i}.py"), f"student_{i}") for i, (name, s) in enumerate(students.items())}

        # 1. the two headline ratios
        from sklearn.tree import DecisionTreeRegressor

        sk_tree = DecisionTreeRegressor(max_depth=8, random_state=0).fit(X, P)
        sk_s = per_call_s(lambda r: sk_tree.predict(r[None, :]), rows, repeats)
        tree_py_s = per_call_s(modules["tree depth 8"].decide, row_lists, repeats)
        mlp = students["mlp (32,)"]
        module = mlp.torch_module()

        def mlp_torch(t: torch.Tensor) -> int:
            with torch.no_grad():
                return int(module(t).argmax())

        mlp_torch_s = per_call_s(mlp_torch, row_tensors, repeats)
        mlp_numpy_s = per_call_s(lambda r: mlp.predict(r[None, :]), rows, repeats)
        print("1. one decision                              time/call    ratio")
        print(f"   scikit-learn tree predict (depth 8)       {sk_s * 1e6:8.2f} µs")
        print(f"   exported Python tree (depth 8)            {tree_py_s * 1e6:8.2f} µs   {sk_s / tree_py_s:7.0f}× faster (aim ≥ 100×)")
        print(f"   torch forward, MLP (32,)                  {mlp_torch_s * 1e6:8.2f} µs")
        print(f"   numpy path, MLP (32,) predict             {mlp_numpy_s * 1e6:8.2f} µs   {mlp_torch_s / mlp_numpy_s:7.1f}× faster (aim ≥ 3×)\n")

        # 2. each student against the teacher, one state
        c_states = X_test[:calls]
        print(f"2. one decision vs the teacher's torch forward ({teacher_s * 1e6:.2f} µs; re-timed beside each student)")
        print("   student               fidelity   ops/decision   Python µs  ×teacher      C ns  ×teacher")
        for name, student in students.items():
            teacher_s = per_call_s(teacher_forward, row_tensors, repeats)
            py_s = per_call_s(modules[name].decide, row_lists, repeats)
            c_ns = c_ns_per_decision(student, c_states, workdir, repeats)
            c_cols = "        n/a" if c_ns is None else f"{c_ns:9.1f} {teacher_s * 1e9 / c_ns:8.0f}×"
            print(
                f"   {name:20s}  {fidelity(P_test, student.predict(X_test)):8.3f} {student.cost().ops_per_decision:14.1f}"
                f"  {py_s * 1e6:10.2f} {teacher_s / py_s:8.1f}×  {c_cols}"
            )

        # 3. batch of 100k: per-decision cost of numpy predict vs the teacher's batched forward
        batch = X_test[np.random.default_rng(0).integers(len(X_test), size=BATCH)]
        tensor = torch.from_numpy(batch)

        def teacher_batch(t: torch.Tensor) -> None:
            with torch.no_grad():
                teacher(t).argmax(dim=1)

        teacher_batch_s = per_call_s(teacher_batch, [tensor], repeats) / BATCH
        print(f"\n3. batch of {BATCH:,}: per-decision time (teacher's batched torch forward: {teacher_batch_s * 1e9:.0f} ns)")
        for name, student in students.items():
            s = per_call_s(student.predict, [batch], max(1, repeats // 2)) / BATCH
            print(
                f"   {name:20s} {s * 1e9:8.0f} ns   {teacher_batch_s / s:6.1f}× the teacher's speed   "
                f"ops {student.cost().ops_per_decision:7.1f} = {student.cost().ops_per_decision / teacher.ops_per_decision:6.2%} of the teacher's"
            )


if __name__ == "__main__":
    main()
