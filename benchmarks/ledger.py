"""Ledger speed as ratios to the raw limits measured beside them, in one run.

    python benchmarks/ledger.py            # ~1 minute on 2 cores; --big 1000000 times a 1M ledger

Each line prints our rate, the raw limit it is compared with, the ratio and the target from
issue 6. Raw limits: Ed25519 sign and verify of an entry hash (cryptography), verify in two
processes, canonical JSON of an entry, a raw SQLite scan of the same rows, and a raw durable
one-row WAL/FULL transaction. Timings are best-of-3 where cheap; the machine is shared, so
expect a few percent of noise.
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from provenance.checkpoint import make_checkpoint
from provenance.hashing import canonical_json, hash_file
from provenance.keys import SigningKey, generate_key
from provenance.ledger import Ledger
from provenance.verify import verify_ledger


def rate(n: int, fn, repeat: int = 3) -> float:
    """Operations per second: ``n`` operations done by one call of ``fn``, best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def items(n: int, offset: int = 0) -> list[dict]:
    """Entries shaped like a search's records (~460 bytes of canonical JSON each)."""
    return [{"kind": "model", "subject": "sha256:" + hashlib.sha256(b"%d" % (i + offset)).hexdigest(),
             "parents": ["sha256:" + hashlib.sha256(b"p%d" % (i + offset)).hexdigest()],
             "attrs": {"family": "tree", "fidelity": 0.9731, "ops_per_decision": 17, "name": f"student-{i + offset}.json"}}
            for i in range(n)]


def build(path: Path, n: int, key: SigningKey, batch: int = 5000) -> float:
    """Write ``n`` entries in batches; returns the append_many rate (item generation not timed)."""
    spent = 0.0
    with Ledger(path) as ledger:
        for start in range(0, n, batch):
            chunk = items(min(batch, n - start), start)
            t = time.perf_counter()
            ledger.append_many(chunk, key=key)
            spent += time.perf_counter() - t
    return n / spent


def _verify_all(args: tuple[bytes, list[tuple[bytes, bytes]]]) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(args[0])
    for sig, msg in args[1]:
        public.verify(sig, msg)
    return len(args[1])


def raw_limits(key: SigningKey, work: Path) -> dict[str, float]:
    msgs = [("sha256:" + hashlib.sha256(b"%d" % i).hexdigest()).encode() for i in range(4000)]
    sigs = [key.sign(m) for m in msgs]
    pairs = list(zip(sigs, msgs))
    raw = key.public_key.raw
    limits = {"sign": rate(len(msgs), lambda: [key.private_key.sign(m) for m in msgs]),
              "verify": rate(len(pairs), lambda: _verify_all((raw, pairs)))}
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_verify_all, [(raw, pairs[:10])] * 2))
        limits["verify2"] = rate(len(pairs) * 2, lambda: list(pool.map(_verify_all, [(raw, pairs[i::2] * 2) for i in range(2)])))
    body = {"seq": 123456, "time": "2026-11-29T04:00:00.000000Z", "kind": "model", "key_id": key.key_id,
            "prev": msgs[0].decode(), **items(1)[0]}
    limits["json"] = rate(20000, lambda: [canonical_json(body) for _ in range(20000)])
    conn = sqlite3.connect(work / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT, h TEXT, sig BLOB)")
    row = (canonical_json(body).decode(), msgs[0].decode(), sigs[0])

    def commits() -> None:
        for _ in range(300):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (body, h, sig) VALUES (?, ?, ?)", row)
            conn.execute("COMMIT")

    limits["commit"] = rate(300, commits)
    conn.close()
    return limits


def scan_rate(path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.text_factory = bytes
    n = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    r = rate(n, lambda: [None for _ in conn.execute("SELECT seq, body, entry_hash, signature FROM entries ORDER BY seq")])
    conn.close()
    return r


def startup(cmd: list[str]) -> float:
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def report(name: str, ours: float, raw: float, raw_name: str, target: str, unit: str = "/s") -> None:
    print(f"{name:<34} {ours:>12,.0f}{unit:<3} {raw_name:<28} {raw:>12,.0f}{unit:<3} ratio {ours / raw:5.2f}  (target {target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=int, default=20000, help="entries in the ledger verified in full")
    parser.add_argument("--big", type=int, default=200000, help="entries in the ledger verified against a checkpoint")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        key = generate_key(work / "k")
        raw = raw_limits(key, work)
        print(f"raw limits: sign {raw['sign']:,.0f}/s, verify {raw['verify']:,.0f}/s (2 processes {raw['verify2']:,.0f}/s), "
              f"canonical JSON {raw['json']:,.0f}/s, durable WAL/FULL commits {raw['commit']:,.0f}/s")

        with Ledger(work / "append.db") as ledger:
            one = items(300)

            def appends() -> None:
                for item in one:
                    ledger.append(item["kind"], item["subject"], parents=item["parents"], attrs=item["attrs"], key=key)

            report("durable append (1 per txn)", rate(len(one), appends), raw["commit"], "raw durable row commit", "≥ 0.6")

        report("append_many (5,000 per txn)", build(work / "full.db", args.full, key), raw["sign"], "raw Ed25519 sign", "≥ 0.5")

        full = rate(args.full, lambda: verify_ledger(work / "full.db", [key]), repeat=1)
        report("full verify, 1 job", full, raw["verify"], "raw Ed25519 verify", "≥ 0.8")
        full2 = rate(args.full, lambda: verify_ledger(work / "full.db", [key], jobs=2), repeat=1)
        report("full verify, --jobs 2", full2, raw["verify"], "raw Ed25519 verify (1 core)", "≥ 1.6")

        build(work / "big.db", args.big, key)
        with Ledger(work / "big.db") as ledger:
            cp = make_checkpoint(ledger, key)
            ledger.append_many(items(100, args.big), key=key)
        n_big = args.big + 100
        scan = scan_rate(work / "big.db")
        fast = rate(n_big, lambda: verify_ledger(work / "big.db", [key], checkpoint=cp), repeat=2)
        report("verify against checkpoint", fast, scan, "raw SQLite scan", "≥ 0.4")
        report("verify against checkpoint", fast, full, "full verify, 1 job", "≥ 20")
        print(f"{'  → a 1M-entry ledger':<34} {1e6 / fast:>12.1f}s   (target ≤ 10 s)")

        blob = work / "blob.bin"
        with open(blob, "wb") as f:
            for _ in range(128):
                f.write(os.urandom(1 << 20))

        def digest() -> None:
            with open(blob, "rb") as f:
                hashlib.file_digest(f, "sha256")

        size_mb = 128.0
        report("hash_file (MB/s)", rate(size_mb, lambda: hash_file(blob)), rate(size_mb, digest), "hashlib.file_digest", "≥ 0.95", unit="")

        script = shutil.which("provenance")
        cli = [script, "--help"] if script else [sys.executable, "-m", "provenance.cli", "--help"]
        ours, bare = startup(cli), startup([sys.executable, "-c", "pass"])
        print(f"{'provenance --help (ms)':<34} {ours * 1e3:>12.1f}    {'python -c pass':<28} {bare * 1e3:>12.1f}    "
              f"ratio {ours / bare:5.2f}  (target ≤ 1.5)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
