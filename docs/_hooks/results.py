"""MkDocs hook: the Results pages' tables, rendered from the JSON files the benchmarks write.

A page asks for a table with a marker on a line of its own, ``<!-- results: NAME -->``; the hook
replaces it with the Markdown table that ``TABLES[NAME]`` renders from ``docs/<file>.json``. No
figure is typed into a page, so a re-run benchmark updates the site on the next build. An unknown
name or a missing JSON file fails the build, naming the marker and the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- results: ([a-z0-9_-]+) -->$", re.MULTILINE)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown pipe table; cells are written with ``str`` and pipes escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage; ``n/a`` for a missing figure."""
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 1) -> str:
    """A number with a true minus sign; ``n/a`` for a missing figure."""
    return "n/a" if x is None else f"{x:,.{digits}f}".replace("-", "−")


def _mean_se(d: dict[str, float]) -> str:
    return f"{num(d['mean'])} ± {num(d['stderr'])}"


def _load(docs: Path, name: str) -> Any:
    return json.loads((docs / f"{name}.json").read_text(encoding="utf-8"))


def retention(docs: Path) -> str:
    """Discrete-action retention per environment (``benchmarks/retention.py``)."""
    out = []
    for env in _load(docs, "retention")["envs"]:
        out.append(f"**{env['env']}**: {env['episodes']} test episodes; teacher {num(env['teacher_return'])}, uniformly random {num(env['random_return'])}\n")
        head = [
            "student",
            "return",
            "retention",
            "fidelity held-out / own states",
            "ops per decision (share of teacher)",
            "size",
            "× faster than teacher, one decision",
        ]
        rows = [
            [
                r["name"],
                num(r["return_mean"]),
                pct(r["retention"]),
                f"{pct(r['fidelity_held_out'])} / {pct(r['fidelity_visited'])}",
                f"{num(r['ops_per_decision'])} ({pct(r['ops_share'], 2)})",
                r["size"],
                f"{r['speedup_vs_teacher']:.0f}×",
            ]
            for r in env["rows"]
        ]
        out.append(table(head, rows) + f"\n\nAutoDistill: {env['autodistill']['choice']}\n")
    return "\n".join(out)


def retention_continuous(docs: Path) -> str:
    """Continuous-action retention per environment (``benchmarks/retention_continuous.py``)."""
    out = []
    for env in _load(docs, "retention_continuous")["envs"]:
        head = [
            f"{env['env']} (teacher {num(env['teacher_return'])}, random {num(env['random_return'])})",
            "return",
            "retention",
            "fidelity held-out",
            "fidelity visited",
            "ops/decision",
            "% teacher ops",
            "size",
        ]
        rows = [
            [
                r["name"],
                num(r["return_mean"]),
                pct(r["retention"]),
                pct(r["fidelity_held_out"]),
                pct(r["fidelity_visited"]),
                num(r["ops_per_decision"]),
                pct(r["ops_share"], 3),
                r["size"],
            ]
            for r in env["rows"]
        ]
        out.append(table(head, rows) + f"\n\nAutoDistill: {env['autodistill']['choice']}\n")
    return "\n".join(out)


def claims(docs: Path) -> str:
    """Claims of the earlier t-interval selection beside the anytime-valid one (``benchmarks/claims.py``)."""
    head = ["setting", "version", "searches", "claims", "hold", "contradicted", "shipped test retention", "search s", "episodes"]
    runs = [_load(docs, "claims_before"), _load(docs, "claims")]
    groups: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for run in runs:
        by_setting: dict[str, list[dict[str, Any]]] = {}
        for r in run["rows"]:
            by_setting.setdefault(r["setting"], []).append(r)
        by_setting["all"] = list(run["rows"])
        for setting, rs in by_setting.items():
            groups.setdefault(setting, []).append((run["label"], rs))
    rows = []
    for setting, versions in groups.items():
        for label, rs in versions:
            tested = [r["test_retention"] for r in rs if r["test_retention"] is not None]
            rows.append(
                [
                    setting,
                    label,
                    len(rs),
                    sum(r["claimed"] for r in rs),
                    sum(r["holds"] for r in rs),
                    sum(r["contradicted"] for r in rs),
                    pct(sum(tested) / len(tested)) if tested else "n/a",
                    f"{sum(r['search_s'] for r in rs):.0f}",
                    sum((r["episodes_choice"] or 0) + (r["episodes_confirmation"] or 0) for r in rs),
                ]
            )
    return table(head, rows)


def noisy_coverage(docs: Path) -> str:
    """Reported retention intervals against fresh test episodes in wind (``benchmarks/noisy_retention.py``)."""
    head = ["search seed", "ships", "ops", "retention reported (95% interval, fresh episodes)", "over the test episodes", "inside"]
    rows = [
        [
            c["seed"],
            c["family"],
            num(c["ops"], 0),
            f"{pct(c['reported'][0])} [{num(100 * c['reported'][1])}, {num(100 * c['reported'][2])}], {c['reported_episodes']} ep.",
            pct(c["test"]["retention"]),
            "yes" if c["inside"] else "**no**",
        ]
        for c in _load(docs, "noisy_retention")["coverage"]
    ]
    return table(head, rows)


def noisy_cost(docs: Path) -> str:
    """What the paired, sequential scoring costs against three episodes each (``benchmarks/noisy_retention.py``)."""
    head = ["task", "scoring", "search s (closed loop s)", "selection + confirmation episodes", "ships (ops)", "its retention on fresh episodes"]
    rows = [
        [
            c["env"],
            c["scoring"],
            f"{num(c['search_s'])} ({num(c['loop_s'])})",
            f"{c['selection_episodes']} + {c['confirmation_episodes']}",
            num(c["shipped_ops"]),
            pct(c["shipped_retention"]),
        ]
        for c in _load(docs, "noisy_retention")["cost"]
    ]
    return table(head, rows)


def search(docs: Path) -> str:
    """AutoDistill against Optuna's samplers, per seed (``benchmarks/search.py``)."""
    data = _load(docs, "search")
    head = ["seed", "method", "candidates / trials", "hypervolume", "cheapest within 1 point (ops)", "engine overhead"]
    rows = []
    for seed, ours in enumerate(data["ours"]):
        rows.append([seed, "AutoDistill", ours["candidates"], f"{ours['hv']:.3f}", num(ours["cheapest_ops"], 0), pct(ours["overhead"])])
        for name, runs in data["optuna"].items():
            r = runs[seed]
            rows.append([seed, f"Optuna {name}", r["candidates"], f"{r['hv']:.3f}", num(r["cheapest_ops"], 0), ""])
    args = data["args"]
    return table(head, rows) + f"\n\nBudget {args['budget']:g} s per search, {args['states']:,} states, {args['n_jobs']} workers, {args['seeds']} seeds.\n"


def runtime_batch(docs: Path) -> str:
    """Compiled batch decisions against the teacher's batched forward (``benchmarks/runtime.py``)."""
    data = _load(docs, "runtime")["batch"]
    head = ["student", "compiled ns / decision", "× teacher (compiled)", "× teacher (numpy `predict`)", "compiled = predict"]
    rows = [
        [
            r["student"],
            num(r["compiled_ns"]),
            f"{r['compiled_speedup']:.1f}×",
            f"{r['numpy_speedup']:.1f}×",
            "every state" if r["compiled_equals_predict"] else "**no**",
        ]
        for r in data["rows"]
    ]
    return f"Batch of {data['batch']:,} CartPole states, one core.\n\n" + table(head, rows)


def runtime_agents(docs: Path) -> str:
    """Many agents of one vectorised environment decided per tick (``benchmarks/runtime.py``)."""
    data = _load(docs, "runtime")["many_agents"]
    head = ["policy", "decisions/s", "share of tick deciding", "mean return (episodes)"]
    rows = [[name, f"{r['decisions_per_s']:,.0f}", pct(r["share_deciding"]), f"{num(r['mean_return'])} ({r['episodes']})"] for name, r in data["rows"].items()]
    return f"{data['env']}: {data['agents']:,} agents × {data['ticks']} ticks; student {data['student']}.\n\n" + table(head, rows)


def runtime_fixed_point(docs: Path) -> str:
    """Fixed-point students against the float ones (``benchmarks/runtime.py``)."""
    out = []
    for env in _load(docs, "runtime")["fixed_point"]:
        head = ["student", "agrees with float", "far from bounds", "tables (flash) B", "RAM B", "`-Os` object B, fixed / float", "retention float → fixed"]
        rows = [
            [
                r["student"],
                pct(r["agreement"], 2),
                "" if r.get("agreement_far_from_bounds") is None else pct(r["agreement_far_from_bounds"], 2),
                r["flash_table_bytes"],
                r["ram_bytes"],
                f"{r['os_object_bytes_fixed']} / {r['os_object_bytes_float']}",
                f"{pct(r['retention_float'])} → {pct(r['retention_fixed'])}",
            ]
            for r in env["rows"]
        ]
        out.append(f"**{env['env']}**, {env['held_out_states']:,} held-out states, {env['episodes']} test episodes\n\n" + table(head, rows) + "\n")
    return "\n".join(out)


def team(docs: Path, name: str = "team") -> str:
    """Students of a team teacher, scored by the team's return (``benchmarks/team.py``, written to ``docs/<name>.json``)."""
    data = _load(docs, name)
    out = []
    for section in data["sections"]:
        head = [
            "policy",
            "team return",
            "retention (own teacher)",
            "retention (vs PPO)",
            "ops per agent decision (share of PPO's)",
            "held-out fidelity per agent",
        ]
        rows = []
        for r in section["rows"]:
            ops = "n/a" if r["ops_per_decision"] is None else f"{num(r['ops_per_decision'])} ({pct(r['share_of_ppo_ops'], 2)})"
            fid = " / ".join(pct(v) for v in r["fidelity_by_agent"].values()) if r.get("fidelity_by_agent") else "—"
            rows.append([r["name"], f"{num(r['return'], 2)} ± {num(r['return_std'], 2)}", pct(r["retention"]), pct(r["retention_vs_ppo"]), ops, fid])
        out.append(f"**Teacher: {section['teacher']}**\n\n" + table(head, rows) + "\n")
    out.append("\n".join(f"- {a}" for a in data["aims"]))
    return "\n".join(out)


def mixture(docs: Path) -> str:
    """Students of one teacher, of the other and of their mixture in two worlds (``benchmarks/mixture_finetune.py``)."""
    m = _load(docs, "mixture_finetune")["mixture"]
    rows = [[name, _mean_se(t["nominal"]), _mean_se(t["wind15"]), num(t["average"])] for name, t in m["test"].items()]
    rows += [
        [f"*teacher: {name}*", _mean_se(t["nominal"]), _mean_se(t["wind15"]), num((t["nominal"]["mean"] + t["wind15"]["mean"]) / 2)]
        for name, t in m["teachers_test"].items()
    ]
    head = ["student distilled from", "nominal", "wind 15", "average of the two"]
    return (
        f"{m['student']} students, gate chosen on selection episodes: {m['gate_chosen_on_selection']}; {m['test_episodes']} test episodes per world.\n\n"
        + table(head, rows)
    )


def data_mix(docs: Path) -> str:
    """A searched data mix against pure teacher rollouts (``benchmarks/mixture_finetune.py``)."""
    d = _load(docs, "mixture_finetune")["data"]
    t = d["test"]
    rows = [
        [f"searched mix {d['shipped_mix']}", f"depth {d['shipped_tree']['max_depth']}", _mean_se(t["searched_mix"]), pct(t["searched_mix"]["retention"])],
        ["teacher rollouts only", f"depth {d['pure_rollouts_tree']['max_depth']}", _mean_se(t["pure_rollouts"]), pct(t["pure_rollouts"]["retention"])],
    ]
    gain = t["paired_gain"]
    return table(["data → shipped", "tree", "test return", "retention"], rows) + f"\n\nPaired gain of the searched mix: {_mean_se(gain)}.\n"


def finetune(docs: Path) -> str:
    """Students fine-tuned in a shifted world, with the nominal world as a guard (``benchmarks/mixture_finetune.py``)."""
    f = _load(docs, "mixture_finetune")["finetune"]
    rows = []
    for name in ("rules8_wind", "mlp4_wind"):
        r = f[name]
        w, n = r["wind15"], r["nominal"]
        rows.append(
            [
                name,
                f"{num(w['before']['mean'])} → {num(w['after']['mean'])}",
                f"{num(w['gain'])} ± {num(w['gain_stderr'])}",
                f"{num(n['before']['mean'])} → {num(n['after']['mean'])}",
                pct(n["change_share"]),
            ]
        )
    head = ["student", "wind 15", "gain", "nominal", "nominal change"]
    return table(head, rows)


def tool_router(docs: Path) -> str:
    """CLINC150 routing: the students, the cascades and the TF-IDF peer on test (``benchmarks/tool_router.py``)."""
    head = [
        "model",
        "agreement (decides all)",
        "coverage at its threshold",
        "agreement on decided",
        "in-scope: coverage / agreement",
        "ops/decision",
        "one-decision latency",
    ]
    rows = [
        [
            r["model"],
            pct(r["agreement"], 2),
            pct(r["coverage"]) if r["threshold"] is not None else "0.0% (no threshold reached 99% before test)",
            pct(r["agreement_decided"], 2),
            f"{pct(r['in_scope_coverage'])} / {pct(r['in_scope_agreement_decided'], 2)}",
            num(r["ops"], 0),
            r["latency"],
        ]
        for r in _load(docs, "tool_router")["rows"]
    ]
    return table(head, rows)


def tool_router_versus_peer(docs: Path) -> str:
    """The cascades' coverage against the peer's at the same agreement on test (``benchmarks/tool_router.py``)."""
    head = ["cascade", "agreement on decided ≥", "its coverage", "the peer's", "ratio"]
    rows = [
        [c["model"], pct(c["agreement"], 2), pct(c["coverage"]), pct(c["peer_coverage"]), f"{c['ratio']:.2f}×"]
        for c in _load(docs, "tool_router")["comparisons"]
    ]
    return table(head, rows)


TABLES: dict[str, Callable[[Path], str]] = {
    "retention": retention,
    "retention-continuous": retention_continuous,
    "claims": claims,
    "noisy-coverage": noisy_coverage,
    "noisy-cost": noisy_cost,
    "search": search,
    "runtime-batch": runtime_batch,
    "runtime-agents": runtime_agents,
    "runtime-fixed-point": runtime_fixed_point,
    "team": team,
    "team-entities": lambda docs: team(docs, "team_entities"),
    "mixture": mixture,
    "data-mix": data_mix,
    "finetune": finetune,
    "tool-router": tool_router,
    "tool-router-versus-peer": tool_router_versus_peer,
}


def render_markers(markdown: str, docs: Path, where: str) -> str:
    """Replace every results marker in ``markdown`` with its table; ``where`` names the page in errors."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"{where}: unknown results table {name!r}; use one of {', '.join(sorted(TABLES))}")
        return TABLES[name](docs)

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: render the page's results markers."""
    return render_markers(markdown, Path(config["docs_dir"]), page.file.src_uri)
