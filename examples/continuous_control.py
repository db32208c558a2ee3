"""Distil a continuous-action controller (a committed SAC/PPO teacher) into readable rules.

Teacher rollouts → trajectory store → rule lists with linear actions (4–32 rules, the fewest
keeping 99% of the teacher's return on validation episodes) → test episodes (retention,
fidelity within 5% of each action's range, normalised MSE, cost) → the rules printed as a
controller → Python and C exports → signed ledger → ``provenance verify``.

    python examples/continuous_control.py                        # Pendulum-v1, about 2 minutes
    python examples/continuous_control.py --env LunarLanderContinuous-v3 --test-episodes 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from hybrid import TrajectoryStore, collect, load_teacher
from hybrid.exports import export_c, export_python
from hybrid.loop.rollouts import closed_loop
from hybrid.metrics import DEFAULT_TOLERANCE, action_fidelity, normalised_mse
from hybrid.students import LinearRuleListStudent
from hybrid.students._base import fit_dataset as fit_continuous
from provenance import Ledger, generate_key, load_key
from provenance.cli import main as provenance_cli

SEEDS = {"train": 0, "held_out": 1, "val": 2, "test": 3}  # four disjoint episode sets
RULES = (4, 8, 16, 32)


def uniform_return(env_id: str, episodes: int, seed: int) -> float:
    """Mean return of actions drawn uniformly in the action Box: the zero of the retention scale."""
    space = gym.make(env_id).action_space
    rng = np.random.default_rng(seed)

    class Uniform:
        action_kind = "continuous"

        def predict(self, X: np.ndarray) -> np.ndarray:
            return rng.uniform(space.low, space.high, size=(len(X), space.shape[0]))

    return closed_loop(env_id, Uniform(), episodes, seed).mean_return


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    t0 = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    teacher = load_teacher(args.env)
    print(f"teacher {args.env}: {teacher.ops_per_decision} multiply-adds per decision, {teacher.content_hash[:19]}…")

    with TrajectoryStore(out / "trajectories.db") as store:
        rollouts = collect(args.env, teacher, episodes=args.episodes, seed=SEEDS["train"], store=store)
        train = store.to_dataset([rollouts.dataset.meta["run_id"]])
    held_out = collect(args.env, teacher, episodes=5, seed=SEEDS["held_out"]).dataset
    print(
        f"logged {len(train)} teacher actions over {args.episodes} episodes (teacher return {rollouts.returns.mean():.1f}); dataset {train.content_hash[:19]}…"
    )

    def retention(episodes: int, seed: int, policy: object) -> float:
        t = closed_loop(args.env, teacher, episodes, seed).mean_return
        z = uniform_return(args.env, episodes, seed)
        return (closed_loop(args.env, policy, episodes, seed).mean_return - z) / (t - z)

    chosen = None
    for n in RULES:  # the fewest rules that keep 99% on validation episodes, else the best there
        student = fit_continuous(LinearRuleListStudent(max_rules=n), train)
        val = retention(args.val_episodes, SEEDS["val"], student)
        print(f"  {student.n_leaves_:>2} rules: validation retention {100 * val:.1f}%")
        if chosen is None or (val > chosen[1] + 1e-9 and chosen[1] < 0.99):
            chosen = (student, val)
    student = chosen[0]

    test_run = closed_loop(args.env, student, args.test_episodes, SEEDS["test"], teacher=teacher)
    test_retention = retention(args.test_episodes, SEEDS["test"], student)
    predicted = student.predict(held_out.X)
    cost = student.cost()
    print(
        f"\nchosen: {student.n_leaves_} rules, {cost.ops_per_decision:.1f} operations per decision "
        f"({100 * cost.ops_per_decision / teacher.ops_per_decision:.3f}% of the teacher's multiply-adds)"
    )
    print(
        f"test ({args.test_episodes} episodes, seed {SEEDS['test']}): return {test_run.mean_return:.1f}, retention "
        f"{100 * test_retention:.1f}%, fidelity on visited states {100 * test_run.agreement:.1f}% "
        f"(within {100 * DEFAULT_TOLERANCE:.0f}% of each action's range)"
    )
    print(
        f"held-out teacher states: fidelity {100 * action_fidelity(held_out.P, predicted, held_out.action_low, held_out.action_high):.1f}%, "
        f"normalised MSE {normalised_mse(held_out.P, predicted, held_out.action_low, held_out.action_high):.4f}\n"
    )
    for rule in student.rules():
        print("  " + rule)

    model_dir = out / "model"
    model_dir.mkdir(exist_ok=True)
    artifact = student.save(model_dir / "model.json")
    exports = {"python": export_python(student, model_dir / "student.py"), "c": export_c(student, model_dir / "student.h")}
    args.key.parent.mkdir(parents=True, exist_ok=True)
    key = load_key(args.key) if args.key.exists() else generate_key(args.key)
    from provenance.hashing import hash_file

    with Ledger(out / "ledger.db") as ledger:
        ledger.append_many(
            [
                {
                    "kind": "dataset",
                    "subject": train.content_hash,
                    "parents": [],
                    "attrs": {"n_states": len(train), "action_kind": "continuous", "action_names": list(train.action_names)},
                },
                {"kind": "teacher", "subject": teacher.content_hash, "parents": [], "attrs": {"name": args.env, "ops_per_decision": teacher.ops_per_decision}},
                {
                    "kind": "model",
                    "subject": student.content_hash,
                    "parents": [train.content_hash, teacher.content_hash],
                    "attrs": {
                        "family": student.family,
                        "artifact": artifact.name,
                        "artifact_hash": hash_file(artifact),
                        "rules": student.n_leaves_,
                        "cost": cost.to_dict(),
                        "test_retention": test_retention,
                        "test_episodes": args.test_episodes,
                        "fidelity_tolerance": DEFAULT_TOLERANCE,
                    },
                },
                *[
                    {"kind": "export", "subject": hash_file(path), "parents": [student.content_hash], "attrs": {"target": target, "file": Path(path).name}}
                    for target, path in exports.items()
                ],
            ],
            key=key,
        )
    print(f"\nmodel   {model_dir}\nledger  {out / 'ledger.db'}\ndone in {time.monotonic() - t0:.0f} s; verifying:")
    return provenance_cli(["verify", str(out / "ledger.db"), "--key", f"{args.key}.pub", "--artifact", str(model_dir / "student.py")])


def main(argv: list[str] | None = None) -> int:
    from hybrid import HybridError
    from provenance import ProvenanceError

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: python examples/continuous_control.py")
    p.add_argument("--env", default="Pendulum-v1", help="a continuous teacher from hybrid.available_teachers('continuous')")
    p.add_argument("--episodes", type=int, default=30, help="teacher episodes to distil from (default 30)")
    p.add_argument("--val-episodes", type=int, default=10, help="episodes choosing the rule count (default 10)")
    p.add_argument("--test-episodes", type=int, default=100, help="episodes of the reported figures (default 100)")
    p.add_argument("--out", type=Path, default=Path("runs/continuous"), help="run folder (default runs/continuous)")
    p.add_argument("--key", type=Path, default=Path("runs/keys/demo.key"), help="signing key, created when missing")
    args = p.parse_args(argv)
    if min(args.episodes, args.val_episodes, args.test_episodes) < 1:
        p.error("episode counts must be ≥ 1")
    try:
        return run(args)
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
