"""Logs at scale: the SQLite store, Parquet and ``.npz`` side by side, a search over a Parquet log,
round trips, and a fleet of writer processes.

Synthetic decisions (8 features, 4 actions) in 10 runs of equal size: each figure is measured
in a fresh child process, so its peak memory (max RSS, imports included) is its own.

- write and read throughput (rows/s) and peak memory for the store, Parquet and ``.npz``;
- a 10% filtered slice (one run of ten) loaded from each: the store by ``to_dataset(runs=…)``,
  Parquet by a filter pushed down to the reader, ``.npz`` by loading all and indexing;
- a search over the Parquet log reading a seeded sample (``max_rows``), on 2 local workers and on
  a Dask LocalCluster with the split scattered once (transfers counted);
- round trips (store → Parquet → dataset hash; rollouts → Minari → dataset) and 8 writer
  processes × 50 batches into one store.

    python benchmarks/logs.py --rows 1000000          # what docs/logs.* hold unless they say otherwise
    python benchmarks/logs.py --rows 10000000         # the issue's size (needs ~3 GB of disk)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from trajectory_store import synthetic  # the same 8-feature, 4-action decisions as the store benchmark

ROOT = Path(__file__).resolve().parents[1]
RUNS = 10
FEATURES = [f"x{i}" for i in range(8)]
ACTIONS = ["a", "b", "c", "d"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- steps, each run in its own process ---------------------------------------------------------
def step_write_sqlite(work: Path, rows: int) -> dict[str, Any]:
    from hybrid.data.store import TrajectoryStore

    X, P = synthetic(rows)
    t = time.perf_counter()
    with TrajectoryStore(work / "log.db") as store:
        for chunk_X, chunk_P in zip(np.array_split(X, RUNS), np.array_split(P, RUNS)):
            run = store.start_run(ACTIONS, FEATURES)
            for i in range(0, len(chunk_X), 100_000):
                store.log_steps(run, chunk_X[i : i + 100_000], chunk_P[i : i + 100_000], episode=i // 1000)
    return {"seconds": time.perf_counter() - t}


def step_write_parquet(work: Path, rows: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, P = synthetic(rows)
    t = time.perf_counter()
    run = np.repeat(np.arange(1, RUNS + 1), [len(c) for c in np.array_split(np.arange(rows), RUNS)])

    def struct(m: np.ndarray, names: list[str]) -> Any:
        return pa.StructArray.from_arrays([pa.array(m[:, i]) for i in range(m.shape[1])], names=names)

    table = pa.table({"run": pa.array(run), "state": struct(X, FEATURES), "action_probs": struct(P, ACTIONS)})
    pq.write_table(table, work / "log.parquet", row_group_size=262_144)
    return {"seconds": time.perf_counter() - t}


def step_write_npz(work: Path, rows: int) -> dict[str, Any]:
    from hybrid.data.dataset import DistillDataset

    X, P = synthetic(rows)
    t = time.perf_counter()
    DistillDataset(X, P, ACTIONS, FEATURES).save(work / "log.npz")
    return {"seconds": time.perf_counter() - t}


def step_read(work: Path, rows: int, carrier: str, sliced: bool) -> dict[str, Any]:
    from hybrid.data.dataset import DistillDataset
    from hybrid.data.parquet import load_parquet
    from hybrid.data.store import TrajectoryStore

    if carrier == "parquet":
        import pyarrow.dataset  # noqa: F401  (a library's import is paid once per process, as sqlite3's is above: not timed)

    t = time.perf_counter()
    if carrier == "sqlite":
        with TrajectoryStore(work / "log.db") as store:
            ds = store.to_dataset(runs=[4] if sliced else None)
    elif carrier == "parquet":
        ds = load_parquet(work / "log.parquet", runs=[4] if sliced else None)
    else:
        ds = DistillDataset.load(work / "log.npz")
        if sliced:  # an .npz has no filter: load it all, then keep run 4's rows
            ds = ds.subset(np.array_split(np.arange(len(ds)), RUNS)[3])
    return {"seconds": time.perf_counter() - t, "rows": len(ds), "hash": ds.content_hash}


def step_search(work: Path, rows: int, backend: str, max_rows: int, budget: float) -> dict[str, Any]:
    from auto_search import AutoDistill
    from hybrid.data.parquet import ParquetLog

    scatters: list[str] = []
    kwargs: dict[str, Any] = {}
    cluster = client = None
    if backend == "dask":
        import distributed

        scatter = distributed.Client.scatter

        def counted(self: Any, data: Any, *a: Any, **k: Any) -> Any:
            scatters.append(type(data).__name__)
            return scatter(self, data, *a, **k)

        distributed.Client.scatter = counted  # type: ignore[method-assign]
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = distributed.Client(cluster)
        kwargs["backend"] = "dask"
    t = time.perf_counter()
    try:
        result = AutoDistill(families=["tree", "rules", "linear"], budget_s=budget, n_jobs=2, verbose=0, max_rows=max_rows, **kwargs).fit(
            ParquetLog(work / "log.parquet")
        )
    finally:
        if client is not None:
            client.close()
            cluster.close()  # type: ignore[union-attr]
    data = result.to_data()
    fits = sum(c["status"] == "ok" for c in data["candidates"])
    return {
        "seconds": time.perf_counter() - t,
        "budget_s": budget,
        "within_budget": time.perf_counter() - t <= budget * 1.05,
        "rows_in_log": rows,
        "rows_read": data["dataset"]["n_states"],
        "rows_read_per_rung": [r["rows_read"] for r in data["rungs"]],
        "fits": fits,
        "scatters": len(scatters) if backend == "dask" else None,
        "chosen_fidelity": None if result.chosen is None else result.chosen.fidelity,
    }


def step_round_trips(work: Path, rows: int) -> dict[str, Any]:
    import os

    from hybrid import TrajectoryStore, collect, from_minari, load_teacher, to_minari
    from hybrid.data.parquet import load_parquet

    n = min(rows, 100_000)
    X, P = synthetic(n, seed=1)
    with TrajectoryStore(work / "trip.db") as store:
        for cx, cp in zip(np.array_split(X, 4), np.array_split(P, 4)):
            store.log_steps(store.start_run(ACTIONS, FEATURES), cx, cp, agents=[f"agent-{i % 3}" for i in range(len(cx))])
        direct = store.to_dataset().content_hash
        via_file = load_parquet(store.to_parquet(work / "trip.parquet")).content_hash
        via_folder = load_parquet(store.to_parquet(work / "trip_runs")).content_hash
    os.environ["MINARI_DATASETS_PATH"] = str(work / "minari")
    with TrajectoryStore(work / "rollouts.db") as store:
        rollouts = collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=5, seed=0, store=store)
        written = to_minari(rollouts, "bench/cartpole-v0")
        back = from_minari(written, action_names=rollouts.dataset.action_names)
    return {
        "parquet_rows": n,
        "store_parquet_file_same_hash": direct == via_file,
        "store_parquet_folder_same_hash": direct == via_folder,
        "minari_steps": int(written.total_steps),
        "minari_same_observations": bool(np.array_equal(back.X, rollouts.dataset.X)),
        "minari_same_actions": bool(np.array_equal(back.labels, rollouts.dataset.labels)),
    }


WRITER = """
import sys
import numpy as np
from hybrid.data.store import TrajectoryStore
path, w, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(w)
with TrajectoryStore(path) as store:
    run = store.start_run(["a", "b", "c", "d"], [f"x{i}" for i in range(8)])
    for b in range(batches):
        X = rng.normal(size=(20, 8)).astype(np.float32); X[:, 0] = w; X[:, 1] = b
        store.log_steps(run, X, rng.dirichlet(np.ones(4), size=20), episode=b)
"""


def step_writers(work: Path, rows: int, writers: int = 8, batches: int = 50) -> dict[str, Any]:
    from hybrid.data.store import TrajectoryStore

    path = work / "fleet.db"
    t = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(batches)], cwd=ROOT, stderr=subprocess.PIPE, text=True) for w in range(writers)
    ]
    failed = [p.communicate()[1][-300:] for p in procs if p.wait() != 0]
    seconds = time.perf_counter() - t
    with TrajectoryStore(path) as store:
        ds = store.to_dataset()
    landed = len({(int(a), int(b)) for a, b in np.unique(ds.X[:, :2], axis=0)})
    return {"writers": writers, "batches": writers * batches, "landed": landed, "rows_loaded": len(ds), "failed_writers": failed, "seconds": seconds}


STEPS = {
    "write_sqlite": step_write_sqlite,
    "write_parquet": step_write_parquet,
    "write_npz": step_write_npz,
    "read": step_read,
    "search": step_search,
    "round_trips": step_round_trips,
    "writers": step_writers,
}


def _child(name: str, work: Path, rows: int, *args: Any) -> dict[str, Any]:
    """Run one step in a fresh process; returns its figures with its peak memory."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from benchmarks import logs; "
        "out = logs.STEPS[sys.argv[2]](logs.Path(sys.argv[3]), int(sys.argv[4]), *json.loads(sys.argv[5])); "
        "out['peak_mb'] = logs._peak_mb(); print('RESULT ' + json.dumps(out))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), name, str(work), str(rows), json.dumps(list(args))], cwd=ROOT, capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"step {name} {args} failed:\n{done.stderr[-2000:]}")
    return json.loads(line[len("RESULT ") :])


def run(rows: int, work: Path, search_rows: int, budget: float) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": rows, "features": 8, "actions": 4, "runs": RUNS, "carriers": {}}
    for carrier in ("sqlite", "parquet", "npz"):
        write = _child(f"write_{carrier}", work, rows)
        full = _child("read", work, rows, carrier, False)
        sliced = _child("read", work, rows, carrier, True)
        size = {"sqlite": "log.db", "parquet": "log.parquet", "npz": "log.npz"}[carrier]
        out["carriers"][carrier] = {
            "write_rows_per_s": rows / write["seconds"],
            "write_peak_mb": write["peak_mb"],
            "read_rows_per_s": rows / full["seconds"],
            "read_peak_mb": full["peak_mb"],
            "slice_s": sliced["seconds"],
            "slice_rows": sliced["rows"],
            "slice_peak_mb": sliced["peak_mb"],
            "file_mb": (work / size).stat().st_size / 2**20,
            "hash": full["hash"],
        }
        print(f"{carrier}: {out['carriers'][carrier]}", file=sys.stderr, flush=True)
    c = out["carriers"]
    out["same_hash_every_carrier"] = len({v.pop("hash") for v in c.values()}) == 1
    out["slice_speedup_parquet_vs_sqlite"] = c["sqlite"]["slice_s"] / c["parquet"]["slice_s"]
    out["search_local"] = _child("search", work, rows, "loky", search_rows, budget)
    out["search_dask"] = _child("search", work, rows, "dask", search_rows, budget)
    out["round_trips"] = _child("round_trips", work, rows)
    out["writers"] = _child("writers", work, rows)
    return out


def table(r: dict[str, Any]) -> str:
    c = r["carriers"]
    lines = [
        f"Logs at scale: {r['rows']:,} decisions ({r['features']} features, {r['actions']} actions, {r['runs']} runs); each figure from a fresh process",
        "",
        f"{'carrier':<9}{'write rows/s':>14}{'write MB':>10}{'read rows/s':>14}{'read MB':>10}{'10% slice s':>13}{'slice MB':>10}{'file MB':>10}",
    ]
    for name, v in c.items():
        lines.append(
            f"{name:<9}{v['write_rows_per_s']:>14,.0f}{v['write_peak_mb']:>10,.0f}{v['read_rows_per_s']:>14,.0f}{v['read_peak_mb']:>10,.0f}"
            f"{v['slice_s']:>13.3f}{v['slice_peak_mb']:>10,.0f}{v['file_mb']:>10,.0f}"
        )
    lines += [
        "",
        f"10% slice, Parquet vs SQLite: {r['slice_speedup_parquet_vs_sqlite']:.1f}x faster (aim ≥ 5x); same dataset hash from every carrier: {r['same_hash_every_carrier']}",
        f"Parquet vs SQLite: write {c['parquet']['write_rows_per_s'] / c['sqlite']['write_rows_per_s']:.1f}x, read {c['parquet']['read_rows_per_s'] / c['sqlite']['read_rows_per_s']:.1f}x; "
        f"npz vs SQLite: read {c['npz']['read_rows_per_s'] / c['sqlite']['read_rows_per_s']:.1f}x",
        "",
    ]
    for key, label in (("search_local", "2 local workers"), ("search_dask", "Dask LocalCluster, 2 workers")):
        s = r[key]
        lines.append(
            f"search over the Parquet log ({label}): {s['seconds']:.1f} s of a {s['budget_s']:g} s budget, peak {s['peak_mb']:,.0f} MB (aim < 4096), "
            f"read {s['rows_read']:,} of {s['rows_in_log']:,} rows, rows per rung {s['rows_read_per_rung']}, {s['fits']} fits"
            + (f", split scattered {s['scatters']} time(s)" if s["scatters"] is not None else "")
        )
    t, w = r["round_trips"], r["writers"]
    lines += [
        "",
        f"round trips: store → Parquet file → dataset same hash {t['store_parquet_file_same_hash']}, folder {t['store_parquet_folder_same_hash']} "
        f"({t['parquet_rows']:,} rows); rollouts → Minari → dataset: {t['minari_steps']} steps, observations kept {t['minari_same_observations']}, "
        f"actions kept {t['minari_same_actions']}",
        f"{w['writers']} writer processes × {w['batches'] // w['writers']} batches into one store: {w['landed']} of {w['batches']} landed, "
        f"{w['rows_loaded']:,} rows loaded, {len(w['failed_writers'])} writers failed, {w['seconds']:.1f} s",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="decisions in the log (the issue's figure is 10,000,000)")
    parser.add_argument("--search-rows", type=int, default=200_000, help="rows the search samples from the log (max_rows)")
    parser.add_argument("--budget", type=float, default=60.0, help="search budget in seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for logs.json and logs.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logs-bench-") as tmp:
        result = run(args.rows, Path(tmp), args.search_rows, args.budget)
    text = table(result)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in (("logs.json", json.dumps(result, indent=2, sort_keys=True) + "\n"), ("logs.txt", text)):
        tmp_path = args.out / f".{name}.tmp"
        tmp_path.write_text(body)
        tmp_path.replace(args.out / name)  # outputs appear whole
    print(text)


if __name__ == "__main__":
    main()
