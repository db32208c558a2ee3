"""Two teachers, one student, then a fine-tune step — and a ledger that shows all of it.

The nominal LunarLander-v3 teacher and the one trained under wind 15 (zoo id
``LunarLander-v3-wind15``) become one mixture teacher (per state, the more confident one
answers). Its rollouts in both worlds — every row tagged with the member that labelled it —
are distilled by AutoDistill into a rule list; the rule list's leaf actions are then fine-tuned
by paired rollouts under wind (the nominal world guarding against forgetting). The ledger holds
both teachers, the mixture, dataset, search, distilled model and the fine-tuned model whose
parent is the distilled one; ``provenance verify`` checks it and ``provenance lineage`` prints
the graph.

    python examples/mixture_finetune.py                     # about 3 minutes on 2 cores
    python examples/mixture_finetune.py --episodes 3 --budget 10 --tune-episodes 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from auto_search import AutoDistill, record
from hybrid import DistillDataset, improve_leaves, load_teacher, mixture_teacher, record_finetune, row_tags, teacher_rollouts, teacher_world
from hybrid.loop.finetune import EnvSpec
from provenance import Ledger, generate_key, load_key
from provenance.cli import main as provenance_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/mixture"), help="run folder (default runs/mixture)")
    p.add_argument("--key", type=Path, default=Path("runs/keys/demo.key"), help="signing key, created if missing")
    p.add_argument("--episodes", type=int, default=10, help="mixture-teacher episodes per world (default 10)")
    p.add_argument("--budget", type=float, default=30.0, help="search budget in seconds (default 30)")
    p.add_argument("--tune-episodes", type=int, default=20, help="paired episodes judging each leaf change (default 20)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    nominal, windy = load_teacher("LunarLander-v3"), load_teacher("LunarLander-v3-wind15")
    worlds = {"nominal": EnvSpec("LunarLander-v3"), "wind15": EnvSpec(*teacher_world("LunarLander-v3-wind15"))}
    mixture = mixture_teacher([nominal, windy], gate="confident")
    print(f"teacher {mixture.identity}, {mixture.content_hash[:19]}…")
    parts = [teacher_rollouts(spec.make(), mixture, a.episodes, a.seed + i) for i, spec in enumerate(worlds.values())]
    data = DistillDataset.concat(parts)
    labellers, counts = np.unique(row_tags(data, "teacher"), return_counts=True)
    print(f"{len(data)} states; labelled by " + ", ".join(f"{name} ({n})" for name, n in zip(labellers, counts)))

    # a small rule list (≤ 8 operations per decision): the kind of student a fine-tune step can still improve
    result = AutoDistill(families=["rules"], budget_s=a.budget, policy="max-fidelity:8", seed=a.seed, n_jobs=1, verbose=0).fit(data)
    print(result.summary())
    distilled = result.student
    tuned = improve_leaves(
        distilled, (worlds["wind15"].env_id, worlds["wind15"].kwargs), seed=a.seed + 100, episodes=a.tune_episodes, max_leaves=6, guard=worlds["nominal"].env_id
    )
    print(
        f"fine-tune under wind: {tuned.selection['accepted']} of {tuned.selection['tried']} leaf changes kept; selection return "
        f"{tuned.selection['start_mean_return']:.1f} → {tuned.selection['final_mean_return']:.1f} over {tuned.steps} steps"
    )
    tuned.student.save(a.out / "finetuned.json")

    a.key.parent.mkdir(parents=True, exist_ok=True)
    key = load_key(a.key) if a.key.exists() else generate_key(a.key)
    ledger_path = a.out / "ledger.db"
    with Ledger(ledger_path) as ledger:
        record(result, ledger, key, teacher=mixture, out_dir=a.out / "model")
        if tuned.changed:  # a fine-tune that kept nothing is its parent: no new model to record
            record_finetune(tuned, ledger, key)
        else:
            print("no leaf change cleared the paired test: the distilled rule list stands (raise --tune-episodes to test changes more finely)")
    code = provenance_cli(["verify", str(ledger_path), "--key", f"{a.key}.pub"])
    print(f"\n$ provenance lineage {ledger_path} {tuned.student.content_hash[:19]}…")
    provenance_cli(["lineage", str(ledger_path), tuned.student.content_hash])
    return code


def main(argv: list[str] | None = None) -> int:
    from hybrid import HybridError
    from provenance import ProvenanceError

    try:
        return run(parse_args(argv))
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
