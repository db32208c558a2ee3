"""Trajectory store throughput: steps logged per second (batched) and time to load 1M steps.

Synthetic decisions (8 features, 4 actions, 1,000-step episodes, rewards and done flags) are
logged through ``TrajectoryStore.log_steps`` in batches, then read back with ``to_dataset``.
Targets from issue 2: ≥ 100k steps/s logging and ≤ 3 s to load 1M steps. Both wall-clock and
process CPU time are printed: on a shared machine the wall figure mostly measures the queue. A JSONL file of the
same decisions is timed too (written, then ingested) for a side-by-side ratio.

    python benchmarks/trajectory_store.py              # 1M steps, batches of 10k
    python benchmarks/trajectory_store.py --steps 200000 --jsonl   # a quick look, with JSONL
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from hybrid.data.store import TrajectoryStore


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    logits = X @ rng.normal(size=(8, 4))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    return X, (P / P.sum(axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--jsonl", action="store_true", help="also time writing and ingesting the same decisions as JSONL")
    args = parser.parse_args()
    X, P = synthetic(args.steps)
    episode = np.arange(args.steps) // 1000
    rewards = np.ones(args.steps)
    dones = (np.arange(args.steps) % 1000) == 999
    with tempfile.TemporaryDirectory() as tmp:
        store = TrajectoryStore(Path(tmp) / "bench.db")
        run = store.start_run([f"a{i}" for i in range(4)], [f"x{j}" for j in range(8)], env="synthetic", seed=0)
        start, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, args.steps, args.batch):
            hi = lo + args.batch
            store.log_steps(run, X[lo:hi], P[lo:hi], episode=episode[lo:hi], rewards=rewards[lo:hi], dones=dones[lo:hi])
        log_s, log_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        ds = store.to_dataset()
        load_s, load_cpu = time.perf_counter() - start, time.process_time() - cpu
        assert len(ds) == args.steps and np.array_equal(ds.X, X)
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
        print(f"steps: {args.steps:,} (8 features, 4 actions), batches of {args.batch:,}; store file {size_mb:.0f} MB")
        print("wall clock includes waiting for the disk and for other processes; CPU is this process's own time")
        print(
            f"logging:  {args.steps / log_s:10,.0f} steps/s wall, {args.steps / log_cpu:10,.0f} steps/s CPU "
            f"(target ≥ 100,000 steps/s: {args.steps / log_s / 1e5:.1f}x wall)"
        )
        print(
            f"loading:  {load_s:10.2f} s wall,       {load_cpu:10.2f} s CPU       "
            f"(to_dataset; target ≤ 3 s per 1M steps: {3.0 * args.steps / 1e6 / load_s:.1f}x under, wall)"
        )
        if args.jsonl:
            path = Path(tmp) / "decisions.jsonl"
            names = [f"a{i}" for i in range(4)]
            start = time.perf_counter()
            with open(path, "w") as f:
                for x, p, e in zip(X.tolist(), P.tolist(), episode.tolist()):
                    f.write(json.dumps({"state": x, "action_probs": dict(zip(names, p)), "episode": e}) + "\n")
            write_s = time.perf_counter() - start
            start = time.perf_counter()
            other = TrajectoryStore(Path(tmp) / "jsonl.db")
            other.ingest_jsonl(path)
            ingest_s = time.perf_counter() - start
            print(
                f"jsonl:    write {args.steps / write_s:,.0f} steps/s, ingest {args.steps / ingest_s:,.0f} steps/s "
                f"({log_s / ingest_s:.2f}x the batched logging rate)"
            )
        store.close()


if __name__ == "__main__":
    main()
