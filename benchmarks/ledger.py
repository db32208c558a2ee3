"""Ledger speed as ratios to the raw limits measured beside them, in one run.

    python benchmarks/ledger.py                 # ~1-2 minutes on 2 cores
    python benchmarks/ledger.py --big 1000000   # times checkpointed verification of a 1M ledger

Each line prints our rate, the raw limit it is compared with, the ratio and the target from
issue 6. Raw limits: Ed25519 sign and verify of an entry hash (cryptography), verify in two
processes, a raw SQLite scan of the same rows, a raw durable one-row WAL/FULL transaction,
hashlib's file_digest and a bare ``python -c pass``. The machine is shared, so each pair is
measured alternately, several rounds, and the best rate of each side is kept: interference
from other work only ever slows a run down.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from provenance.checkpoint import make_checkpoint
from provenance.hashing import canonical_json, hash_file
from provenance.keys import SigningKey, generate_key
from provenance.ledger import Ledger
from provenance.verify import verify_ledger


def seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def paired(ours: Callable[[], object], raw: Callable[[], object], rounds: int = 3) -> tuple[float, float]:
    """Best (shortest) time of each side over ``rounds`` alternating runs."""
    best_ours = best_raw = float("inf")
    for _ in range(rounds):
        best_raw = min(best_raw, seconds(raw))
        best_ours = min(best_ours, seconds(ours))
    return best_ours, best_raw


def items(n: int, offset: int = 0) -> list[dict]:
    """Entries shaped like a search's records (~460 bytes of canonical JSON each)."""
    return [
        {
            "kind": "model",
            "subject": "sha256:" + hashlib.sha256(b"%d" % (i + offset)).hexdigest(),
            "parents": ["sha256:" + hashlib.sha256(b"p%d" % (i + offset)).hexdigest()],
            "attrs": {"family": "tree", "fidelity": 0.9731, "ops_per_decision": 17, "name": f"student-{i + offset}.json"},
        }
        for i in range(n)
    ]


def build(path: Path, n: int, key: SigningKey, batch: int = 5000) -> None:
    with Ledger(path) as ledger:
        for start in range(0, n, batch):
            ledger.append_many(items(min(batch, n - start), start), key=key)


def _verify_all(args: tuple[bytes, list[tuple[bytes, bytes]]]) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(args[0])
    for sig, msg in args[1]:
        public.verify(sig, msg)
    return len(args[1])


def report(name: str, n_ours: float, t_ours: float, raw_name: str, n_raw: float, t_raw: float, target: str, unit: str = "/s") -> None:
    ours, raw = n_ours / t_ours, n_raw / t_raw
    print(f"{name:<30} {ours:>11,.0f}{unit:<3} {raw_name:<30} {raw:>11,.0f}{unit:<3} ratio {ours / raw:5.2f}  (target {target})")


def bench_writes(work: Path, key: SigningKey) -> None:
    conn = sqlite3.connect(work / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT, h TEXT, sig BLOB)")
    one = items(200)
    row = (canonical_json(one[0]).decode(), "sha256:" + "0" * 64, bytes(64))

    def raw_commits() -> None:
        for _ in one:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (body, h, sig) VALUES (?, ?, ?)", row)
            conn.execute("COMMIT")

    with Ledger(work / "append.db") as ledger:

        def appends() -> None:
            for item in one:
                ledger.append(item["kind"], item["subject"], parents=item["parents"], attrs=item["attrs"], key=key)

        t_ours, t_raw = paired(appends, raw_commits, rounds=5)
        report("durable append (1 per txn)", len(one), t_ours, "raw durable WAL/FULL commit", len(one), t_raw, "≥ 0.6")
        batch = items(5000, 10**6)
        messages = [("sha256:" + hashlib.sha256(b"%d" % i).hexdigest()).encode() for i in range(5000)]
        t_ours, t_raw = paired(lambda: ledger.append_many(batch, key=key), lambda: [key.private_key.sign(m) for m in messages])
        report("append_many (5,000 per txn)", len(batch), t_ours, "raw Ed25519 sign", len(messages), t_raw, "≥ 0.5")
    conn.close()


def bench_verify(work: Path, key: SigningKey, n: int) -> float:
    build(work / "full.db", n, key)
    messages = [("sha256:" + hashlib.sha256(b"%d" % i).hexdigest()).encode() for i in range(n)]
    pairs = [(key.sign(m), m) for m in messages]
    raw_one = lambda: _verify_all((key.public_key.raw, pairs))  # noqa: E731
    t_ours, t_raw = paired(lambda: verify_ledger(work / "full.db", [key]), raw_one)
    report("full verify, 1 job", n, t_ours, "raw Ed25519 verify, 1 core", n, t_raw, "≥ 0.8")
    with ProcessPoolExecutor(2) as pool:

        def raw_two() -> None:
            list(pool.map(_verify_all, [(key.public_key.raw, pairs[i::2]) for i in range(2)]))

        raw_two()
        t_two, t_raw2 = paired(lambda: verify_ledger(work / "full.db", [key], jobs=2), raw_two)
    report("full verify, --jobs 2", n, t_two, "raw Ed25519 verify, 1 core", n, t_raw, "≥ 1.6")
    print(
        f"{'':<30} {'':>14} {'(raw verify, 2 processes':<30} {n / t_raw2:>11,.0f}/s  = {t_raw / t_raw2:.2f}× one core; "
        f"--jobs 2 reaches {t_raw2 / t_two:.2f} of it)"
    )
    return n / t_ours


def bench_checkpoint(work: Path, key: SigningKey, n: int, full_rate: float) -> None:
    build(work / "big.db", n, key)
    with Ledger(work / "big.db") as ledger:
        cp = make_checkpoint(ledger, key)
        ledger.append_many(items(100, n), key=key)
    conn = sqlite3.connect(work / "big.db")
    conn.text_factory = bytes

    def raw_scan() -> None:
        for _ in conn.execute("SELECT seq, body, entry_hash, signature FROM entries ORDER BY seq"):
            pass

    t_ours, t_raw = paired(lambda: verify_ledger(work / "big.db", [key], checkpoint=cp), raw_scan)
    conn.close()
    report("verify against checkpoint", n + 100, t_ours, "raw SQLite scan (stdlib)", n + 100, t_raw, "≥ 0.4")
    print(
        f"{'verify against checkpoint':<30} {(n + 100) / t_ours:>11,.0f}/s  {'full verify, 1 job':<30} {full_rate:>11,.0f}/s  "
        f"ratio {(n + 100) / t_ours / full_rate:5.1f}  (target ≥ 20)"
    )
    print(f"{'  → a 1M-entry ledger':<30} {1e6 * t_ours / (n + 100):>11.1f}s   (target ≤ 10 s)")


def bench_hash_and_startup(work: Path) -> None:
    blob = work / "blob.bin"
    with open(blob, "wb") as f:
        for _ in range(128):
            f.write(os.urandom(1 << 20))

    def digest() -> None:
        with open(blob, "rb") as f:
            hashlib.file_digest(f, "sha256")

    t_ours, t_raw = paired(lambda: hash_file(blob), digest, rounds=7)
    report("hash_file (MB/s)", 128, t_ours, "hashlib.file_digest", 128, t_raw, "≥ 0.95", unit="")
    script = shutil.which("provenance")
    cli = [script, "--help"] if script else [sys.executable, "-m", "provenance.cli", "--help"]
    t_cli, t_bare = paired(
        lambda: subprocess.run(cli, stdout=subprocess.DEVNULL, check=True), lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), rounds=15
    )
    print(f"{'provenance --help (ms)':<30} {t_cli * 1e3:>11.1f}    {'python -c pass':<30} {t_bare * 1e3:>11.1f}    ratio {t_cli / t_bare:5.2f}  (target ≤ 1.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=int, default=10000, help="entries in the ledger verified in full")
    parser.add_argument("--big", type=int, default=200000, help="entries in the ledger verified against a checkpoint")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        key = generate_key(work / "k")
        print(f"{'ours':<30} {'rate':>14} {'raw limit':<30} {'rate':>14}")
        bench_writes(work, key)
        full_rate = bench_verify(work, key, args.full)
        bench_checkpoint(work, key, args.big, full_rate)
        bench_hash_and_startup(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
