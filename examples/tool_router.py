"""Distil a request router (text → one of ten domain agents, or escalate) into keyword rules and a cascade.

Real requests: CLINC150 (``../shared/data/clinc150``, see its README). The router being distilled
is the one whose decisions were logged; here CLINC150's human domain labels stand in for an LLM
router's logged choices (``out_of_scope`` → ``escalate``), because no LLM runs on this machine —
with a live model, label the requests with ``hybrid.LLMTeacher`` instead (same JSONL, same rest).

The decisions are written as JSONL with text states, ingested into a trajectory store, searched
with the ``cascade:0.99`` policy (the student deciding the most requests while agreeing ≥ 99%
with the router on those it decides; the rest go back to the router), reported, recorded in a
signed ledger and verified. The shipped ``model/student.py`` has ``decide({"text": ...})``
returning a domain, ``"escalate"``, or ``None`` (ask the router). It is then scored on
val.jsonl, which neither the search nor the threshold ever saw.

    python examples/tool_router.py [--requests 15100] [--budget 120] [--out runs/tool_router]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from distil_env import signing_key

from auto_search import AutoDistill, record
from hybrid import TrajectoryStore
from provenance import Ledger
from provenance.cli import main as provenance_cli

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clinc150"


def route(domain: str) -> str:
    return "escalate" if domain == "out_of_scope" else domain


def write_decisions(source: Path, path: Path, n: int, seed: int) -> int:
    """The router's logged decisions as JSONL: the request text and the route it chose."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [rows[i] for i in np.sort(np.random.default_rng(seed).permutation(len(rows))[:n])]
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"state": {"text": r["text"]}, "action": route(r["domain"]), "trace": {"intent": r["intent"]}}) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: bad options or data end in one line naming the fix (exit 2)."""
    from hybrid import HybridError
    from provenance import ProvenanceError

    try:
        return distil_router(argv)
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def distil_router(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA, help="folder with CLINC150 train.jsonl and val.jsonl")
    p.add_argument("--requests", type=int, default=15100, help="logged decisions to distil (a seeded sample of train.jsonl)")
    p.add_argument("--budget", type=float, default=120.0, help="search budget in seconds")
    p.add_argument("--policy", default="cascade:0.99")
    p.add_argument("--out", type=Path, default=Path("runs/tool_router"))
    p.add_argument("--key", type=Path, default=Path("runs/keys/demo.key"), help="signing key, created if missing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if not (a.data / "train.jsonl").exists():
        print(f"error: no CLINC150 at {a.data}; pass --data FOLDER holding train.jsonl and val.jsonl", file=sys.stderr)
        return 2

    a.out.mkdir(parents=True, exist_ok=True)
    log_file = a.out / "decisions.jsonl"
    n = write_decisions(a.data / "train.jsonl", log_file, a.requests, a.seed)
    (a.out / "trajectories.db").unlink(missing_ok=True)
    with TrajectoryStore(a.out / "trajectories.db") as store:
        store.ingest_jsonl(log_file, teacher="clinc150-labels (stand-in for an LLM router)")
        dataset = store.to_dataset()
    print(f"ingested {n} routing decisions from {log_file}; fields: {dataset.describe_fields()}; routes: {', '.join(dataset.action_names)}")

    result = AutoDistill(budget_s=a.budget, policy=a.policy, seed=a.seed, n_jobs=2, verbose=0 if a.quiet else 1).fit(dataset)
    print(result.summary())
    if result.student is None:
        print("error: nothing finished within the budget; raise --budget", file=sys.stderr)
        return 2
    print("\n" + "\n".join(result.student.to_text().splitlines()[:15]) + "\n")

    with Ledger(a.out / "ledger.db") as ledger:
        record(result, ledger, signing_key(a.key), out_dir=a.out / "model", exports=("python",))
    report = result.write_report(a.out / "report")
    print(f"report  {report / 'report.html'}\nledger  {a.out / 'ledger.db'}")
    score_on_val(a.out / "model" / "student.py", a.data / "val.jsonl")
    return provenance_cli(["verify", str(a.out / "ledger.db"), "--key", f"{a.key}.pub", "--artifact", str(a.out / "model" / "student.py")])


def score_on_val(module_path: Path, val: Path) -> None:
    """Run the shipped standard-library module on val.jsonl (never seen by the search) and print
    its coverage and its agreement with the router on the requests it decides."""
    spec = importlib.util.spec_from_file_location("router_student", module_path)
    student = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student)
    rows = [json.loads(line) for line in val.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = [student.decide({"text": r["text"]}) for r in rows]
    decided = [(ans, route(r["domain"])) for ans, r in zip(answers, rows) if ans is not None]
    agree = sum(a == b for a, b in decided) / len(decided) if decided else float("nan")
    print(
        f"val.jsonl through model/student.py: decides {len(decided)} of {len(rows)} requests ({len(decided) / len(rows):.1%}), "
        f"agreeing with the router on {agree:.2%} of those; the router answers the other {len(rows) - len(decided)}"
    )
    for r in rows[:3]:
        print(f"  decide({{'text': {r['text']!r}}}) -> {student.decide({'text': r['text']})!r}")


if __name__ == "__main__":
    raise SystemExit(main())
