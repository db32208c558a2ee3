"""Distil a team end to end: MPE simple_spread (3 agents, PettingZoo parallel API).

The committed team teacher (parameter-shared PPO) plays; every agent's decision is logged with
its agent id in a trajectory store; AutoDistill searches students that act on one agent's own
observation, scored in the loop by the *team's* return on paired episodes; the report gives the
team return over test episodes, per-agent fidelity and the shared student's rules; dataset →
teacher → search → model → export are recorded in a signed ledger, which is then verified.

    python examples/team.py [--budget 90] [--out runs/team] [--teacher shared|centralised]

``--teacher centralised`` distils the centralised planner (``hybrid.spread_planner``: it reads
every agent's observation and assigns agents to landmarks) into decentralised students instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from distil_env import signing_key

from auto_search import AutoDistill, record
from hybrid import TeamEnv, TrajectoryStore, load_team_teacher, spread_planner, team_closed_loop, team_collect
from hybrid.metrics import fidelity_by_agent
from provenance import Ledger
from provenance.cli import main as provenance_cli

ENV_ID = "simple_spread_v3"
TEST_SEED = 12345  # test episodes: never used by any choice (search: seed, seed + 7919; DAgger: seed + 1 + i)


@dataclass(frozen=True)
class Settings:
    """One end-to-end run; the defaults take a few minutes on 2 shared cores."""

    out: Path = Path("runs/team")
    key: Path = Path("runs/keys/demo.key")
    teacher: str = "shared"  # or "centralised"
    episodes: int = 100  # teacher episodes logged
    budget_s: float = 90.0
    policy: str = "min-retention:0.95"
    test_episodes: int = 100
    agent_features: bool = False
    seed: int = 0
    n_jobs: int = 2
    verbose: int = 1


def team_teacher(kind: str) -> Any:
    """The committed shared PPO team teacher, or the centralised planner."""
    return spread_planner() if kind == "centralised" else load_team_teacher(ENV_ID)


def team_figures(team: TeamEnv, teacher: Any, student: Any, episodes: int, dataset: Any) -> dict[str, Any]:
    """Team returns of teacher, random team and student on the same test episodes, retention,
    and per-agent fidelity (held-out rows) and agreement (states the student met)."""
    t = team_closed_loop(team, teacher, episodes, TEST_SEED)
    r = team_closed_loop(team, None, episodes, TEST_SEED)
    s = team_closed_loop(team, student, episodes, TEST_SEED, teacher=teacher)
    gap = t.mean_return - r.mean_return
    return {
        "test_episodes": episodes,
        "test_seed": TEST_SEED,
        "teacher_return": t.mean_return,
        "random_return": r.mean_return,
        "student_return": s.mean_return,
        "student_return_std": s.std_return,
        "retention": (s.mean_return - r.mean_return) / gap if gap else 1.0,
        "fidelity_by_agent_held_out": fidelity_by_agent(dataset, student.predict(dataset.X)),
        "agreement_by_agent_own_states": s.agent_agreement,
    }


def student_rules(student: Any, dataset: Any, config: Any) -> str:
    """The shipped student as rules: a rule list's or hybrid's own text, a tree's if/else source;
    for other families a rule list fitted on the same training rows, labelled as such."""
    if hasattr(student, "to_text"):
        return str(student.to_text())
    if type(student).__name__ == "TreeStudent":  # its Python export, with feature and action names put in
        names, actions = list(dataset.feature_names), list(dataset.action_names)
        body = student.python_function("decide").split("\n", 1)[1]
        body = re.sub(r"state\[(\d+)\]", lambda m: names[int(m.group(1))], body)
        return re.sub(r"return (\d+)", lambda m: f"→ {actions[int(m.group(1))]}", body).replace("    ", "  ").strip("\n")
    from hybrid.students import RuleListStudent

    train, held_out = dataset.split(config.val_fraction, config.seed)
    rules = RuleListStudent(max_depth=4, max_rules=16).fit(train.X, train.P, feature_names=train.feature_names, action_names=train.action_names)
    agree = float(np.mean(rules.predict(held_out.X) == held_out.labels))
    return (
        f"(the shipped {type(student).__name__} has no rules; a 16-rule list on the same rows, {100 * agree:.1f}% held-out fidelity, reads:)\n"
        + rules.to_text()
    )


def run(s: Settings) -> int:
    """The whole pipeline; returns the exit code of ``provenance verify``."""
    torch.set_num_threads(1)
    t0 = time.monotonic()
    s.out.mkdir(parents=True, exist_ok=True)
    teacher = team_teacher(s.teacher)
    team = TeamEnv(ENV_ID, agent_features=s.agent_features)
    search = AutoDistill(budget_s=s.budget_s, policy=s.policy, env=team, teacher=teacher, seed=s.seed, n_jobs=s.n_jobs, verbose=s.verbose)
    search.config()  # a bad option fails here, before any rollout
    print(f"team teacher: {teacher.identity} ({teacher.kind}), {teacher.ops_per_decision} multiply-adds per agent decision")

    with TrajectoryStore(s.out / "trajectories.db") as store:
        rollouts = team_collect(team, teacher, episodes=s.episodes, seed=s.seed, store=store)
        dataset = store.to_dataset([rollouts.dataset.meta["run_id"]])
    print(f"logged {len(dataset)} decisions of {len(team.agents)} agents over {s.episodes} episodes (team return {rollouts.returns.mean():.1f})")

    result = search.fit(dataset)
    print(result.summary())
    student = result.student
    _, held_out = dataset.split(result.config.val_fraction, result.config.seed)
    figures = team_figures(team, teacher, student, s.test_episodes, held_out)
    ops = student.cost().ops_per_decision
    figures.update(
        teacher=teacher.identity,
        teacher_kind=s.teacher,
        student_family=result.shipped.family,
        student_ops_per_decision=ops,
        teacher_ops_per_decision=teacher.ops_per_decision,
        share_of_teacher_ops=None if not teacher.ops_per_decision else ops / teacher.ops_per_decision,
        rules=student_rules(student, dataset, result.config),
        settings={k: str(v) for k, v in asdict(s).items()},
    )

    key = signing_key(s.key)
    ledger_path = s.out / "ledger.db"
    with Ledger(ledger_path) as ledger:
        record(result, ledger, key, teacher=teacher, out_dir=s.out / "model", exports=("python",))
    report = result.write_report(s.out / "report")
    (report / "team.json").write_text(json.dumps(figures, indent=1, default=float) + "\n", encoding="utf-8")
    (report / "team.md").write_text(team_markdown(figures), encoding="utf-8")
    print("\n" + team_markdown(figures))
    print(f"report  {report / 'report.html'} and {report / 'team.md'}\nledger  {ledger_path}\nmodel   {s.out / 'model'}")
    print(f"done in {time.monotonic() - t0:.0f} s; verifying:\n$ provenance verify {ledger_path} --key {s.key}.pub --artifact {s.out / 'model' / 'student.py'}")
    return provenance_cli(["verify", str(ledger_path), "--key", f"{s.key}.pub", "--artifact", str(s.out / "model" / "student.py")])


def team_markdown(f: dict[str, Any]) -> str:
    """The team section of the report: returns, retention, per-agent fidelity, the rules."""
    share = "n/a" if f["share_of_teacher_ops"] is None else f"{100 * f['share_of_teacher_ops']:.2f}%"
    lines = [
        f"# Team distillation: {ENV_ID}, {f['teacher_kind']} teacher",
        "",
        f"{f['test_episodes']} test episodes (seed {f['test_seed']}, never used to choose); team return = every agent's rewards summed.",
        "",
        "| policy | team return | retention |",
        "|---|---|---|",
        f"| teacher ({f['teacher']}) | {f['teacher_return']:.2f} | 100.0% |",
        f"| random team | {f['random_return']:.2f} | 0.0% |",
        f"| student ({f['student_family']}, {f['student_ops_per_decision']:.1f} ops per agent decision, {share} of the teacher's) "
        f"| {f['student_return']:.2f} | {100 * f['retention']:.1f}% |",
        "",
        "| agent | fidelity, held-out decisions | agreement on the states it met |",
        "|---|---|---|",
    ]
    for a, v in f["fidelity_by_agent_held_out"].items():
        lines.append(f"| {a} | {100 * v:.1f}% | {100 * f['agreement_by_agent_own_states'][a]:.1f}% |")
    if f.get("rules"):
        lines += ["", "The shared student, as rules:", "", "```", f["rules"], "```"]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> Settings:
    d = Settings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=d.out, help="run folder")
    p.add_argument("--key", type=Path, default=d.key, help="signing key, created if missing")
    p.add_argument("--teacher", choices=("shared", "centralised"), default=d.teacher, help="the team teacher to distil")
    p.add_argument("--episodes", type=int, default=d.episodes, help="teacher episodes to log")
    p.add_argument("--budget", type=float, default=d.budget_s, help="search budget in seconds")
    p.add_argument("--policy", default=d.policy, help="selection policy, e.g. min-retention:0.95")
    p.add_argument("--test-episodes", type=int, default=d.test_episodes, help="episodes of the final team figures")
    p.add_argument("--agent-features", action="store_true", help="give the shared student a one-hot agent id")
    p.add_argument("--jobs", type=int, default=d.n_jobs, help="parallel search workers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.episodes < 1 or a.test_episodes < 1:
        p.error("--episodes and --test-episodes must be ≥ 1")
    return Settings(a.out, a.key, a.teacher, a.episodes, a.budget, a.policy, a.test_episodes, a.agent_features, d.seed, a.jobs, 0 if a.quiet else 1)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: bad options or data end in one line naming the fix (exit 2)."""
    from hybrid import HybridError
    from provenance import ProvenanceError

    settings = parse_args(argv)
    try:
        return run(settings)
    except (HybridError, ProvenanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
