"""Distil a tool-choosing agent from its decision logs into readable rules and a hybrid.

The log generator below SIMULATES the agent: a stand-in for an LLM agent that, for each
request, outputs probabilities over the tools it may call, with a short reasoning trace. In
real use the JSONL comes from your agent's own logging; everything after `write_logs` is the
same. The logs are ingested into a trajectory store, searched over rule and hybrid students,
reported, and recorded in a signed ledger.

    python examples/agent_logs.py [--requests 6000] [--budget 30] [--out runs/agent_logs]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from distil_env import signing_key

from auto_search import AutoDistill, record
from hybrid import TrajectoryStore
from provenance import Ledger
from provenance.cli import main as provenance_cli

TOOLS = ("web_search", "calculator", "code_runner", "calendar", "answer_directly")
FEATURES = ("words", "digits_share", "has_code_block", "mentions_date", "question_marks", "user_is_expert")


def simulated_agent(request: dict[str, float]) -> tuple[dict[str, float], str]:
    """The simulated agent's tool probabilities for one request, and its one-line reasoning."""
    logits = np.array(
        [
            0.04 * request["words"] - 1.0 + 0.8 * request["question_marks"],  # long open questions: search
            6.0 * request["digits_share"] - 1.0,  # numbers: calculator
            3.5 * request["has_code_block"] - 1.5 + 0.8 * request["user_is_expert"],
            3.0 * request["mentions_date"] - 1.2,
            1.2 - 0.03 * request["words"],  # short chat: answer
        ]
    )
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return dict(zip(TOOLS, p.round(6).tolist())), f"leaning to {TOOLS[int(np.argmax(p))]} (p={p.max():.2f})"


def write_logs(path: Path, n: int, seed: int) -> None:
    """Write ``n`` simulated decisions as JSONL, one object a line, as an agent's logger would."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            request = {
                "words": float(rng.integers(2, 120)),
                "digits_share": float(np.round(rng.beta(0.6, 4.0), 3)),
                "has_code_block": float(rng.random() < 0.2),
                "mentions_date": float(rng.random() < 0.15),
                "question_marks": float(rng.integers(0, 3)),
                "user_is_expert": float(rng.random() < 0.3),
            }
            probs, why = simulated_agent(request)
            probs = {k: v / sum(probs.values()) for k, v in probs.items()}  # exact sums after rounding
            f.write(json.dumps({"state": request, "action_probs": probs, "episode": i // 50, "trace": {"reasoning": why}}) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry: bad options or data end in one line naming the fix (exit 2)."""
    from hybrid import HybridError
    from provenance import ProvenanceError

    try:
        return distil_logs(argv)
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def distil_logs(argv: list[str] | None = None) -> int:
    """Simulate the logs, ingest, search, report, record and verify; returns verify's exit code."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=6000, help="simulated decisions to log")
    p.add_argument("--budget", type=float, default=30.0, help="search budget in seconds")
    p.add_argument("--out", type=Path, default=Path("runs/agent_logs"))
    p.add_argument("--key", type=Path, default=Path("runs/keys/demo.key"), help="signing key, created if missing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)

    a.out.mkdir(parents=True, exist_ok=True)
    log_file = a.out / "decisions.jsonl"
    write_logs(log_file, a.requests, a.seed)
    (a.out / "trajectories.db").unlink(missing_ok=True)
    with TrajectoryStore(a.out / "trajectories.db") as store:
        store.ingest_jsonl(log_file, teacher="simulated-tool-agent")
        dataset = store.to_dataset()
    print(f"ingested {len(dataset)} decisions from {log_file}; features {', '.join(dataset.feature_names)}")

    search = AutoDistill(families=("rules", "hybrid"), budget_s=a.budget, policy="within-best:0.02", seed=a.seed, n_jobs=2, verbose=0 if a.quiet else 1)
    result = search.fit(dataset)
    print(result.summary())
    if hasattr(result.student, "to_text"):
        print("\n" + result.student.to_text() + "\n")

    key = signing_key(a.key)
    with Ledger(a.out / "ledger.db") as ledger:
        record(result, ledger, key, out_dir=a.out / "model")
    report = result.write_report(a.out / "report")
    print(f"report  {report / 'report.html'}\nledger  {a.out / 'ledger.db'}")
    return provenance_cli(["verify", str(a.out / "ledger.db"), "--key", f"{a.key}.pub", "--artifact", str(a.out / "model" / "student.py")])


if __name__ == "__main__":
    raise SystemExit(main())
