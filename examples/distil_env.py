"""Distil a committed teacher end to end in a gymnasium environment.

Teacher rollouts → trajectory store → AutoDistill (closed-loop scoring, DAgger for the chosen
student) → report → signed ledger → Python and C exports → ``provenance verify`` →
``agent-distill reproduce`` (the shipped model refitted from its recorded lineage, hashes compared). The
per-environment scripts (``cartpole.py``, ``lunar_lander.py``) call :func:`run` with their
settings; run this file directly for any teacher in the zoo:

    python examples/distil_env.py Acrobot-v1 --budget 90
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from auto_search import AutoDistill, record
from auto_search.cli import main as agent_distill_cli
from hybrid import TrajectoryStore, collect, load_teacher
from provenance import Ledger, generate_key, load_key
from provenance.cli import main as provenance_cli


@dataclass(frozen=True)
class Settings:
    """What one end-to-end run does; the defaults fit in about 3 minutes on 2 cores."""

    env_id: str = "CartPole-v1"
    out: Path = Path("runs/cartpole")
    key: Path = Path("runs/keys/demo.key")
    episodes: int = 20
    budget_s: float = 60.0
    seed: int = 0
    n_jobs: int = 2
    verbose: int = 1
    policy: str = "auto"  # with an environment: min-retention:0.99, the cheapest student keeping 99% of the return with confidence
    loop_episodes: int = 5  # seeded episodes per Pareto candidate in the environment


def signing_key(path: Path):
    """The demo's signing key, created on first use (keep real keys out of the run folder)."""
    if path.exists():
        return load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"creating signing key {path} (public half {path}.pub)")
    return generate_key(path)


def run(s: Settings) -> int:
    """Run the whole pipeline; returns the exit code of ``provenance verify``."""
    torch.set_num_threads(1)
    t0 = time.monotonic()
    s.out.mkdir(parents=True, exist_ok=True)
    teacher = load_teacher(s.env_id)
    search = AutoDistill(
        budget_s=s.budget_s,
        policy=s.policy,
        env=s.env_id,
        teacher=teacher,
        seed=s.seed,
        n_jobs=s.n_jobs,
        verbose=s.verbose,
        closed_loop_episodes=s.loop_episodes,
    )
    search.config()  # a bad option fails here, before any rollout
    print(f"teacher {s.env_id}: {teacher.ops_per_decision} multiply-adds per decision, {teacher.content_hash[:19]}…")

    with TrajectoryStore(s.out / "trajectories.db") as store:
        rollouts = collect(s.env_id, teacher, episodes=s.episodes, seed=s.seed, store=store)
        dataset = store.to_dataset([rollouts.dataset.meta["run_id"]])
    print(
        f"logged {len(dataset)} teacher decisions over {s.episodes} episodes "
        f"(teacher return {rollouts.returns.mean():.1f}); dataset {dataset.content_hash[:19]}…"
    )

    result = search.fit(dataset)
    print(result.summary())

    key = signing_key(s.key)
    ledger_path = s.out / "ledger.db"
    with Ledger(ledger_path) as ledger:
        record(result, ledger, key, teacher=teacher, out_dir=s.out / "model", exports=("python", "c"))
    report = result.write_report(s.out / "report")
    if result.student is not None and hasattr(result.student, "to_text"):
        print("\n" + result.student.to_text() + "\n")
    print(f"report  {report / 'report.html'}\nledger  {ledger_path}\nmodel   {s.out / 'model'}")
    print(f"done in {time.monotonic() - t0:.0f} s; verifying:\n$ provenance verify {ledger_path} --key {s.key}.pub --artifact {s.out / 'model' / 'student.py'}")
    code = provenance_cli(["verify", str(ledger_path), "--key", f"{s.key}.pub", "--artifact", str(s.out / "model" / "student.py")])
    if code or result.student is None:
        return code
    model = result.student.content_hash
    print(f"re-deriving the model from its lineage:\n$ agent-distill reproduce {ledger_path} {model[:23]} --key {s.key}.pub")
    return agent_distill_cli(["reproduce", str(ledger_path), model, "--key", f"{s.key}.pub"])


def main(defaults: Settings, argv: list[str] | None = None) -> int:
    """Command line entry: bad options or data end in one line naming the fix (exit 2)."""
    from hybrid import HybridError
    from provenance import ProvenanceError

    settings = parse_args(defaults, argv)
    try:
        return run(settings)
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def parse_args(defaults: Settings, argv: list[str] | None = None) -> Settings:
    """Command-line options over ``defaults``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if defaults.env_id == Settings.env_id and defaults.out == Settings.out:
        p.add_argument("env_id", nargs="?", default=defaults.env_id, help="a teacher from hybrid.available_teachers()")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/<env>)")
    p.add_argument("--key", type=Path, default=defaults.key, help="signing key, created if missing")
    p.add_argument("--episodes", type=int, default=defaults.episodes, help="teacher episodes to log")
    p.add_argument("--budget", type=float, default=defaults.budget_s, help="search budget in seconds")
    p.add_argument("--policy", default=defaults.policy, help="selection policy, e.g. min-retention:0.99, knee, min-cost:0.95")
    p.add_argument("--loop-episodes", type=int, default=defaults.loop_episodes, help="episodes per Pareto candidate in the loop")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--jobs", type=int, default=defaults.n_jobs, help="parallel search workers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    env_id = getattr(a, "env_id", defaults.env_id)
    out = a.out or (defaults.out if env_id == defaults.env_id else Path("runs") / env_id.split("-")[0].lower())
    return Settings(env_id, out, a.key, a.episodes, a.budget, a.seed, a.jobs, 0 if a.quiet else 1, a.policy, a.loop_episodes)


if __name__ == "__main__":
    raise SystemExit(main(Settings()))
