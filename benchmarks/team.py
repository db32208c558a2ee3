"""Teams: distilling MPE simple_spread (3 agents) into cheap decentralised students.

Two teachers, measured in one run on the same test episodes (seed 12345, never used to choose):
the committed parameter-shared PPO team teacher (decentralised: each agent decides from its own
observation) and the centralised planner (``hybrid.spread_planner``: it reads every agent's
observation, assigns agents to landmarks, and decides for all). For each, students act on one
agent's own observation only:

- AutoDistill's choice, one student shared by the agents (``min-retention:0.95`` scored by the
  team's return on its own paired episodes, then DAgger in the team);
- one student per agent: AutoDistill per agent (``TeamEnv(controlled=[agent])``: the teacher
  plays its partners while it is scored), the three then run together;
- peers: behaviour-cloned shared tree (depth 8) and MLP (32 hidden units), and the same behind
  the entity stage (``hybrid.EntityFeaturizer``: landmarks and partners sorted by distance, how
  much nearer the agent is than its partners, counts): entity tree (depth 12), entity MLP (4 and
  8 hidden units). AutoDistill searches the entity families too: the feature names list entities.

Team return = every agent's rewards summed over the episode. Retention = (R − R_random) /
(R_teacher − R_random) against the teacher the student learnt from, and against the PPO teacher
for the centralised planner's students too, so both kinds of students stand side by side.
Seeds: teacher rollouts 1, search selection 0 (confirmation 7919), test 12345.

    python benchmarks/team.py --json docs/team.json      # ~15 min on 2 shared cores
    python benchmarks/team.py --budget 20 --episodes 5 --quick
    python benchmarks/team.py --quick --teachers ppo --json docs/team_entities.json   # ~8 min
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from auto_search.search import AutoDistill
from hybrid.envs.adapter import TeamEnv
from hybrid.loop.rollouts import team_closed_loop, team_collect
from hybrid.metrics import fidelity_by_agent
from hybrid.students.entities import EntityMLPStudent, EntityTreeStudent
from hybrid.students.mlp import MLPStudent
from hybrid.students.tree import TreeStudent
from hybrid.teachers.zoo import load_team_teacher, spread_planner

ENV_ID = "simple_spread_v3"
SEEDS = {"train": 1, "test": 12345}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=100, help="test episodes per row (default 100)")
    p.add_argument("--train-episodes", type=int, default=200, help="teacher episodes logged for distillation (default 200)")
    p.add_argument("--budget", type=float, default=120.0, help="seconds per shared-student search; per-agent searches get a third each")
    p.add_argument("--quick", action="store_true", help="skip the per-agent searches")
    p.add_argument("--teachers", nargs="+", choices=("ppo", "centralised"), default=["ppo", "centralised"], help="which teachers' sections to run")
    p.add_argument("--json", type=Path, help="write the figures here (and a .txt beside it)")
    return p.parse_args(argv)


def cost(student: Any) -> float:
    return float(student.cost().ops_per_decision)


def row(name: str, team: TeamEnv, policy: Any, teacher: Any, episodes: int, base: dict[str, float], ops: float | None, held_out: Any = None) -> dict[str, Any]:
    """One table row: team return on the test episodes, retention against each teacher, fidelity."""
    loop = team_closed_loop(team, policy, episodes, SEEDS["test"], teacher=teacher if policy is not None and policy is not teacher else None)
    out: dict[str, Any] = {"name": name, "return": loop.mean_return, "return_std": loop.std_return, "ops_per_decision": ops}
    for key, t in (("retention", base["teacher"]), ("retention_vs_ppo", base["ppo"])):
        out[key] = (loop.mean_return - base["random"]) / (t - base["random"])
    out["share_of_ppo_ops"] = None if ops is None else ops / base["ppo_ops"]
    out["agreement_by_agent"] = loop.agent_agreement
    if held_out is not None and hasattr(policy, "predict"):
        out["fidelity_by_agent"] = fidelity_by_agent(held_out, policy.predict(held_out.X))
    elif held_out is not None and isinstance(policy, dict):
        out["fidelity_by_agent"] = {
            a: fidelity_by_agent(held_out.subset(held_out.agent_ids == a), s.predict(held_out.X[held_out.agent_ids == a]))[a] for a, s in policy.items()
        }
    return out


def search(team: TeamEnv, teacher: Any, data: Any, budget: float) -> Any:
    result = AutoDistill(budget_s=budget, policy="min-retention:0.95", env=team, teacher=teacher, seed=0, n_jobs=2, verbose=0).fit(data)
    if result.student is None:
        raise SystemExit(f"the search in {team.env_id} finished no student within {budget} s; give it more --budget or --train-episodes")
    return result


def measure_teacher(kind: str, teacher: Any, args: argparse.Namespace, base: dict[str, float]) -> dict[str, Any]:
    """Every row for one teacher (``kind``: "ppo" or "centralised")."""
    team = TeamEnv(ENV_ID, agent_features=kind == "centralised")  # the planner's choices differ by agent: give the id
    t0 = time.monotonic()
    data = team_collect(team, teacher, episodes=args.train_episodes, seed=SEEDS["train"]).dataset
    _, held_out = data.split(0.2, 0)
    base = {**base, "teacher": base[kind]}
    rows = [row(f"teacher ({teacher.identity})", team, teacher, teacher, args.episodes, base, teacher.ops_per_decision)]
    result = search(team, teacher, data, args.budget)
    auto = row("AutoDistill, one shared student", team, result.student, teacher, args.episodes, base, cost(result.student), held_out)
    auto.update(family=result.shipped.family, choice=result.choice, shipped=result.shipped.source, search_s=result.search_s)
    auto["rules"] = result.student.to_text() if hasattr(result.student, "to_text") else None
    rows.append(auto)
    if not args.quick:
        students = {}
        for agent in team.agents:
            view = team.with_view(controlled=[agent])
            students[agent] = search(
                view, teacher, team_collect(view, teacher, episodes=args.train_episodes, seed=SEEDS["train"]).dataset, args.budget / 3
            ).student
        ops = float(np.mean([cost(s) for s in students.values()]))
        per = row("AutoDistill, one student per agent", team, students, teacher, args.episodes, base, ops, held_out)
        per["families"] = {a: type(s).__name__ for a, s in students.items()}
        rows.append(per)
    train, _ = data.split(0.2, 0)
    peers = (
        ("BC tree depth 8", TreeStudent(max_depth=8)),
        ("BC MLP 32", MLPStudent(hidden_sizes=(32,))),
        ("BC entity tree depth 12", EntityTreeStudent(max_depth=12)),
        ("BC entity MLP 4", EntityMLPStudent(hidden_sizes=(4,))),
        ("BC entity MLP 8", EntityMLPStudent(hidden_sizes=(8,))),
    )
    for name, student in peers:
        student.fit(train.X, train.P, feature_names=train.feature_names, action_names=train.action_names)
        rows.append(row(name, team, student, teacher, args.episodes, base, cost(student), held_out))
    return {"teacher": teacher.identity, "kind": kind, "agent_features": team.agent_features, "rows": rows, "seconds": time.monotonic() - t0}


def table(section: dict[str, Any], base: dict[str, float]) -> str:
    lines = [
        f"**{section['kind']} teacher** — {section['teacher']}; random team {base['random']:.2f}, PPO teacher {base['ppo']:.2f}",
        "",
        "| policy | team return | retention (own teacher) | retention (vs PPO) | ops per agent decision (share of PPO's) | fidelity held-out, per agent |",
        "|---|---|---|---|---|---|",
    ]
    for r in section["rows"]:
        ops = "n/a" if r["ops_per_decision"] is None else f"{r['ops_per_decision']:.1f} ({100 * r['share_of_ppo_ops']:.2f}%)"
        fid = " / ".join(f"{100 * v:.1f}%" for v in r.get("fidelity_by_agent", {}).values()) or "—"
        lines.append(
            f"| {r['name']} | {r['return']:.2f} ± {r['return_std']:.2f} | {100 * r['retention']:.1f}% | {100 * r['retention_vs_ppo']:.1f}% | {ops} | {fid} |"
        )
    return "\n".join(lines)


def aims(sections: list[dict[str, Any]]) -> list[str]:
    auto = sections[0]["rows"][1]
    met = auto["retention"] >= 0.95 and auto["share_of_ppo_ops"] <= 0.01
    out = [
        f"AutoDistill's choice (PPO teacher) keeps ≥ 95% of the team return at ≤ 1% of its multiply-adds: "
        f"{'met' if met else 'MISSED'} — {100 * auto['retention']:.1f}% at {100 * auto['share_of_ppo_ops']:.2f}% ({auto['ops_per_decision']:.1f} ops, {auto['family']})"
    ]
    out.append(
        f"AutoDistill's choice keeps ≥ 90% of the team return at ≤ 2% of its multiply-adds per agent decision: "
        f"{'met' if auto['retention'] >= 0.9 and auto['share_of_ppo_ops'] <= 0.02 else 'MISSED'} — {100 * auto['retention']:.1f}% at {100 * auto['share_of_ppo_ops']:.2f}%"
    )
    cheap = [r for r in sections[0]["rows"][1:] if r["share_of_ppo_ops"] is not None and r["share_of_ppo_ops"] <= 0.02]
    if cheap:
        best = max(cheap, key=lambda r: r["retention"])
        out.append(
            f"best student at ≤ 2% of the teacher's multiply-adds: {best['name']}, {100 * best['retention']:.1f}% at {100 * best['share_of_ppo_ops']:.2f}%"
        )
    if len(sections) > 1:
        c = sections[1]["rows"]
        out.append(
            f"centralised planner {c[0]['return']:.2f} → its decentralised AutoDistill student {c[1]['return']:.2f} "
            f"({100 * c[1]['retention']:.1f}% of the planner, {100 * c[1]['retention_vs_ppo']:.1f}% of the PPO teacher); "
            f"students of the decentralised PPO teacher {auto['return']:.2f}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    ppo = load_team_teacher(ENV_ID)
    planner = spread_planner()
    team = TeamEnv(ENV_ID)
    base = {
        "random": team_closed_loop(team, None, args.episodes, SEEDS["test"]).mean_return,
        "ppo": team_closed_loop(team, ppo, args.episodes, SEEDS["test"]).mean_return,
        "centralised": team_closed_loop(team, planner, args.episodes, SEEDS["test"]).mean_return,
        "ppo_ops": float(ppo.ops_per_decision),
    }
    teachers = {"ppo": ppo, "centralised": planner}
    sections = [measure_teacher(kind, teachers[kind], args, base) for kind in args.teachers]
    text = "\n\n".join([*(table(s, base) for s in sections), "\n".join(f"- {a}" for a in aims(sections))])
    rules = sections[0]["rows"][1].get("rules")
    if rules:
        text += "\n\nThe shared student of the PPO teacher, as rules:\n\n```\n" + rules + "\n```"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"env": ENV_ID, "episodes": args.episodes, "seeds": SEEDS, "baselines": base, "sections": sections, "aims": aims(sections)},
                indent=1,
                default=str,
            )
            + "\n"
        )
        args.json.with_suffix(".txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
