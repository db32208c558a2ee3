"""``agent-distill serve`` under load on loopback: throughput and latency per path, beside a bare server.

Three processes, so that none shares an interpreter lock with another: the stand-in upstream
(``auto_search.serve.standin``, every answer after ``--upstream-ms``, 50 ms), the server
(``agent-distill serve`` with ``--log``, the real CLI), and this load generator (``--clients``
concurrent httpx clients, 64, sending ``--requests`` chat completions, 5,000). A share
``--decidable`` of the requests (0.8) are ones the student decides; the rest it defers. The bare
server is the same stand-in with no delay: parse the request, answer a completion — what any
Starlette + uvicorn endpoint costs. Each is also measured with one client at a time, where the
student's own cost shows without queueing. After the server stops, the log is counted: every
request must be there. Writes docs/serve.json and docs/serve.txt.

    python benchmarks/serve.py [--requests 5000] [--clients 64] [--upstream-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from auto_search.serve.standin import free_port  # noqa: E402
from hybrid import TrajectoryStore  # noqa: E402
from hybrid.data.featurize import RecordFeaturizer  # noqa: E402
from hybrid.students.featurized import FeaturizedStudent  # noqa: E402
from hybrid.students.linear import LinearStudent  # noqa: E402

TOOLS = ["get_weather", "search_flights", "book_table", "play_music", "set_alarm", "answer"]
WORDS = {
    "get_weather": "weather forecast rain sunny temperature",
    "search_flights": "flight fly airport ticket plane",
    "book_table": "restaurant table dinner reserve lunch",
    "play_music": "play song music album playlist",
    "set_alarm": "alarm wake remind timer morning",
    "answer": "why explain what meaning history",
}


def requests_for(n: int, decidable: float, seed: int) -> list[str]:
    """Request texts: a ``decidable`` share built from one tool's words, the rest from unseen words."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if rng.random() < decidable:
            words = WORDS[TOOLS[int(rng.integers(len(TOOLS) - 1))]].split()
            out.append(" ".join(rng.choice(words, 3)) + f" {i}")
        else:
            out.append(f"zq{int(rng.integers(1e6))} xv{int(rng.integers(1e6))}")
    return out


def write_model(folder: Path, seed: int) -> str:
    """A linear router over the tools' words (deferring below 0.6), where ``search --out`` puts one."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for k, tool in enumerate(TOOLS):
        for _ in range(200):
            records.append({"text": " ".join(rng.choice(WORDS[tool].split(), 3))})
            labels.append(k)
    student = FeaturizedStudent(student=LinearStudent(C=10.0), featurizer=RecordFeaturizer(), defer_below=0.6).fit(records, labels, action_names=TOOLS)
    (folder / "model").mkdir(parents=True, exist_ok=True)
    student.save(folder / "model" / "model.json")
    return student.content_hash


def start(cmd: list[str], port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"messages": [{"role": "user", "content": "warm up"}]}, timeout=5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start: {proc.communicate()[1]}")


async def load(url: str, texts: list[str], clients: int) -> tuple[float, list[tuple[str, float]]]:
    """(wall seconds, [(decided-by header, seconds)] per request) with ``clients`` at once."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for t in texts:
        queue.put_nowait(t)
    results: list[tuple[str, float]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                text = queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    r = await client.post(f"{url}/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": text}]})
                    who = r.headers.get("x-agent-distill-decided-by", "bare" if r.status_code == 200 else "error")
                except httpx.HTTPError:  # a dropped connection is counted, not fatal
                    who = "failed"
                results.append((who, time.perf_counter() - t0))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - start, results


def figures(wall: float, results: list[tuple[str, float]]) -> dict:
    by: dict[str, list[float]] = {}
    for who, s in results:
        by.setdefault(who, []).append(s)
    paths = {who: {"n": len(v), "p50_ms": 1000 * float(np.percentile(v, 50)), "p99_ms": 1000 * float(np.percentile(v, 99))} for who, v in sorted(by.items())}
    return {"requests": len(results), "wall_s": wall, "throughput_rps": len(results) / wall, "paths": paths}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--upstream-ms", type=float, default=50.0)
    p.add_argument("--decidable", type=float, default=0.8)
    p.add_argument("--single", type=int, default=500, help="requests sent one at a time to each server")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "docs")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model_hash = write_model(Path(tmp) / "router", a.seed)
        up_port, bare_port, serve_port = free_port(), free_port(), free_port()
        standin = [sys.executable, "-m", "auto_search.serve.standin", "--tool", "search_flights"]
        upstream = start([*standin, "--port", str(up_port), "--delay-ms", str(a.upstream_ms)], up_port)
        bare = start([*standin, "--port", str(bare_port)], bare_port)
        log = Path(tmp) / "served.db"
        cmd = [sys.executable, "-m", "auto_search.cli", "serve", str(Path(tmp) / "router"), "--upstream", f"http://127.0.0.1:{up_port}/v1"]
        server = start([*cmd, "--log", str(log), "--port", str(serve_port)], serve_port)
        try:
            texts = requests_for(a.requests, a.decidable, a.seed)
            served = figures(*asyncio.run(load(f"http://127.0.0.1:{serve_port}/v1", texts, a.clients)))
            bare_loaded = figures(*asyncio.run(load(f"http://127.0.0.1:{bare_port}/v1", texts, a.clients)))
            decidable_only = requests_for(a.single, 1.0, a.seed + 1)
            served_single = figures(*asyncio.run(load(f"http://127.0.0.1:{serve_port}/v1", decidable_only, 1)))
            bare_single = figures(*asyncio.run(load(f"http://127.0.0.1:{bare_port}/v1", decidable_only, 1)))
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=120)
            for proc in (upstream, bare):
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=60)
        with TrajectoryStore(log) as store:
            logged = store.db.execute("select decided_by, count(*) from served_requests group by decided_by").fetchall()
            labelled = store.n_steps()
    sent = 1 + a.requests + a.single  # the warm-up request counts too
    logged_counts = {who: n for who, n in logged}
    student = served["paths"].get("student", {})
    result = {
        "settings": {k: getattr(a, k) for k in ("requests", "clients", "upstream_ms", "decidable", "single", "seed")},
        "model_hash": model_hash,
        "served_loaded": served,
        "bare_loaded": bare_loaded,
        "served_single_client": served_single,
        "bare_single_client": bare_single,
        "share_decided_by_student": student.get("n", 0) / served["requests"],
        "student_p50_added_ms_single_client": served_single["paths"]["student"]["p50_ms"] - bare_single["paths"]["bare"]["p50_ms"],
        "student_p50_added_ms_loaded": student.get("p50_ms", float("nan")) - bare_loaded["paths"]["bare"]["p50_ms"],
        "log": {"sent": sent, "logged": sum(logged_counts.values()), "by_path": logged_counts, "labelled_decisions": labelled},
    }
    table = render(result)
    print(table)
    a.out.mkdir(parents=True, exist_ok=True)
    for name, text in (("serve.json", json.dumps(result, indent=2, sort_keys=True) + "\n"), ("serve.txt", table)):
        tmp_file = a.out / f".{name}.tmp"
        tmp_file.write_text(text, encoding="utf-8")
        tmp_file.replace(a.out / name)
    return 0 if result["log"]["logged"] == sent else 1


def render(r: dict) -> str:
    s = r["settings"]
    rows = [
        ("served, student-decided", r["served_loaded"], "student"),
        ("served, upstream-decided", r["served_loaded"], "upstream"),
        ("bare server (no model)", r["bare_loaded"], "bare"),
    ]
    lines = [
        f"agent-distill serve on loopback: {s['requests']} requests from {s['clients']} concurrent clients, upstream answering in {s['upstream_ms']:g} ms",
        "",
        f"| path | requests | p50 ms | p99 ms |   (throughput: served {r['served_loaded']['throughput_rps']:.0f} req/s, bare {r['bare_loaded']['throughput_rps']:.0f} req/s)",
        "|---|---|---|---|",
    ]
    for label, fig, path in rows:
        f = fig["paths"].get(path, {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan")})
        lines.append(f"| {label} | {f['n']} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |")
    single_s, single_b = r["served_single_client"]["paths"]["student"], r["bare_single_client"]["paths"]["bare"]
    log = r["log"]
    lines += [
        "",
        f"one client at a time ({s['single']} requests): student path p50 {single_s['p50_ms']:.2f} ms, bare server p50 {single_b['p50_ms']:.2f} ms "
        f"→ the student adds {r['student_p50_added_ms_single_client']:.2f} ms at p50 ({r['student_p50_added_ms_loaded']:.2f} ms under load)",
        f"share decided by the student: {100 * r['share_decided_by_student']:.1f}% (of requests built {100 * s['decidable']:.0f}% decidable)",
        f"log: {log['logged']} of {log['sent']} requests sent are in served_requests ({', '.join(f'{k} {v}' for k, v in sorted(log['by_path'].items()))}); "
        f"{log['labelled_decisions']} upstream answers stored as labelled decisions",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
