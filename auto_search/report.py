"""Write a search report — report.json, report.md, report.html — from one data object.

The HTML is self-contained: plots are matplotlib PNGs inlined as base64, no scripts, no
external files, so it can be mailed or attached to a ticket. The three files are written into
a temporary folder and moved into place together: a crash never leaves a partial report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from auto_search.cascade import cascade_html as _cascade_html
from auto_search.cascade import cascade_markdown as _cascade_markdown

REPORT_FILES = ("report.json", "report.md", "report.html")
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def write_report(data: dict[str, Any], directory: Path) -> Path:
    """Write the three report files into ``directory`` atomically; other files there are kept."""
    directory = Path(directory).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a report folder is meant to be shared
        (tmp / "report.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(data), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(data), encoding="utf-8")
        if directory.exists():
            for item in directory.iterdir():
                if item.name not in REPORT_FILES:  # keep artifacts (model.json, exports) beside the report
                    (shutil.copytree(item, tmp / item.name, copy_function=os.link) if item.is_dir() else os.link(item, tmp / item.name))
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old)
        else:
            tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


# -- text -------------------------------------------------------------------------------------
def _ranges(indices: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``"3–5, 9"``: the one-fit rungs at the end of a search are many."""
    spans: list[list[int]] = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _stop_words(data: dict[str, Any]) -> str:
    cut = [r["index"] for r in data["rungs"] if r["status"] == "cut"]
    why = {None: "the plan finished", "budget": "the budget ran out", "interrupted": "interrupted (Ctrl-C)"}[data["stopped_by"]]
    rungs = f"rungs cut: {_ranges(cut)}" if cut else "no rung cut"
    note = "" if data["reproducible"] else "; no rung finished whole, so this choice is NOT reproducible"
    base = f"; only students above the {100 * data['baseline_fidelity']:.1f}% of always playing the most common action were eligible"
    return f"{why} after {data['search_s']:.1f} s; {rungs}{base}{note}"


def _candidate_rows(data: dict[str, Any]) -> list[list[str]]:
    front = set(data["pareto"])
    chosen = data["chosen"]["id"] if data["chosen"] else None
    rows = []
    for c in data["candidates"]:
        mark = "★" if c["id"] == chosen else ("◆" if c["id"] in front else "")
        if c["status"] == "ok":
            scores = [
                f"{100 * c['fidelity']:.2f}",
                f"{c['kl']:.4f}",
                f"{c['ops_per_decision']:g}",
                str(c["parameters"]),
                str(c["bytes"]),
                f"{c['latency_us']:.1f}",
            ]
        else:
            scores = [c["status"], (c["error"] or "")[:60], "", "", "", ""]
        rows.append([f"{c['id']}{mark}", str(c["rung"]), c["family"], _params(c["params"]), str(c["n_train"]), *scores, f"{c['fit_time_s']:.2f}"])
    return rows


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "random_state")


_HEAD = ["id", "rung", "family", "params", "n_train", "fidelity %", "KL", "ops", "params#", "bytes", "latency µs", "fit s"]


def _continuous(data: dict[str, Any]) -> bool:
    return data["dataset"].get("action_kind") == "continuous"


def _head(data: dict[str, Any]) -> list[str]:
    """Candidate columns; the ``kl`` field holds normalised MSE for continuous actions."""
    return [("nMSE" if h == "KL" and _continuous(data) else h) for h in _HEAD]


def _dataset_words(data: dict[str, Any]) -> str:
    """Size, action kind and how fidelity is counted, e.g. ``…, continuous actions torque in
    [-2, 2]; fidelity: share of held-out states with every action within 5% of its range …``."""
    ds = data["dataset"]
    head = f"{ds['n_states']} states × {ds['n_features']} features"
    if not _continuous(data):
        return f"{head}, discrete actions {', '.join(ds['action_names'])}; fidelity: top-1 agreement with the teacher"
    ranges = ", ".join(f"{n} in [{lo:g}, {hi:g}]" for n, lo, hi in zip(ds["action_names"], ds["action_low"], ds["action_high"]))
    return (
        f"{head}, continuous actions {ranges}; fidelity: share of held-out states whose every action is within "
        f"{100 * ds['fidelity_tolerance']:g}% of its range of the teacher's (tolerance {ds['fidelity_tolerance']:g}); nMSE: normalised mean squared error"
    )


def _interval(x: dict[str, Any]) -> str:
    """Retention with its interval and episodes, e.g. ``99.6% [98.9, 100.3] (20 ep.)``."""
    if x.get("retention") is None:
        return "—"
    return f"{100 * x['retention']:.1f}% [{100 * x['retention_low']:.1f}, {100 * x['retention_high']:.1f}] ({x['loop_episodes']} ep.)"


def _choice_words(data: dict[str, Any]) -> str:
    chosen = data["chosen"]
    if not chosen:
        return "none — no candidate finished."
    note = f" ({data['policy_note']})" if data.get("policy_note") else ""
    return f"{chosen['choice']}{note}"


def _shipped_rows(data: dict[str, Any]) -> list[list[str]]:
    """The chosen candidate beside the shipped student, figure by figure."""
    chosen, shipped = data["chosen"], data["shipped"]
    rows = [
        ["model hash", f"{chosen['content_hash']}", f"{shipped['content_hash']}"],
        ["held-out fidelity", f"{100 * chosen['fidelity']:.2f}%", f"{100 * shipped['fidelity']:.2f}%"],
        [f"held-out {'nMSE' if _continuous(data) else 'KL'}", f"{chosen['kl']:.4f}", f"{shipped['kl']:.4f}"],
        ["ops per decision", f"{chosen['ops_per_decision']:g}", f"{shipped['ops_per_decision']:g}"],
        ["parameters", str(chosen["parameters"]), str(shipped["parameters"])],
        ["bytes", str(chosen["bytes"]), str(shipped["bytes"])],
    ]
    if data["closed_loop"]:
        loop = shipped["loop"] or {}
        rows += [
            ["retention (interval, episodes)", f"{_interval(chosen)} selection episodes", f"{_interval(loop)} fresh episodes"],
            ["fidelity on own states", _share(chosen.get("visited_fidelity")), _share(loop.get("visited_fidelity"))],
        ]
    return rows


def _share(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _cost_rows(cost: dict[str, Any]) -> list[list[str]]:
    return [[k.replace("_", " "), f"{v:g}" if isinstance(v, float) else str(v)] for k, v in cost.items()]


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown (tables, the rules text, hashes and ledger entries)."""
    ds, shipped = data["dataset"], data["shipped"]
    out = ["# AutoDistill report", "", f"**Choice:** {_choice_words(data)}", ""]
    if shipped:
        out += [f"**Ships:** {shipped['source']} — {shipped['reason']}.", ""]
    out += [f"Search: {_stop_words(data)}.", ""]
    out += [f"Dataset `{ds['content_hash']}`: {_dataset_words(data)}.", ""]
    if shipped:
        out += ["## Chosen and shipped", "", "| figure | chosen candidate | shipped student |", "|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in _shipped_rows(data)] + [""]
        out += ["Cost of the shipped student:", "", "| cost | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _cost_rows(shipped["cost"])] + [""]
        if shipped["rules_text"]:
            out += ["```", shipped["rules_text"].rstrip(), "```", ""]
        names = ds["action_names"]
        if shipped["confusion"] is not None:  # None for continuous actions
            out += [
                "Confusion of the shipped student on held-out states (rows: teacher, columns: student):",
                "",
                "| teacher \\ student | " + " | ".join(names) + " |",
                "|" + "---|" * (len(names) + 1),
            ]
            out += [f"| {names[i]} | " + " | ".join(map(str, row)) + " |" for i, row in enumerate(shipped["confusion"])] + [""]
    if data["closed_loop"]:
        head, rows = _closed_loop_table(data)
        out += ["## Closed loop", "", _closed_loop_words(data), "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    out += _cascade_markdown(data.get("cascade"))
    if data.get("data_mix"):  # auto_search.mix_search: the shares searched and the mix that shipped
        out += ["## Data mix", "", data["data_mix"]["words"], ""]
    out += ["## Configuration", "", "| option | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in data["config"].items()] + [f"| config hash | `{data['config_hash']}` |", ""]
    out += ["## Candidates (★ chosen, ◆ Pareto front)", "", "| " + " | ".join(_head(data)) + " |", "|" + "---|" * len(_HEAD)]
    out += ["| " + " | ".join(r) + " |" for r in _candidate_rows(data)] + [""]
    out += ["## Rungs", "", "| rung | level | candidates | finished | status |", "|---|---|---|---|---|"]
    out += [f"| {r['index']} | {r['level']} | {r['candidates']} | {r['finished']} | {r['status']} |" for r in data["rungs"]] + [""]
    if data["ledger_entries"]:
        out += ["## Ledger entries", "", "| seq | kind | subject | entry hash |", "|---|---|---|---|"]
        out += [f"| {e['seq']} | {e['kind']} | `{e['subject']}` | `{e['entry_hash']}` |" for e in data["ledger_entries"]] + [""]
    out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()), ""]
    return "\n".join(out)


def _closed_loop_words(data: dict[str, Any]) -> str:
    """How the loop was scored, the baselines, and the DAgger outcome, in one paragraph."""
    loop = data["closed_loop"]
    conf = 100 * loop["confidence"]
    words = (
        f"Each Pareto student ran on the same seeded episodes as the teacher ({loop['env']}): {loop['episodes_first']} first, "
        f"doubling up to {loop['episodes_cap']} while its {conf:g}% interval contained the bar"
        + (f" of {100 * loop['bar']:g}%" if loop.get("bar") is not None else "")
        + f". Retention = 1 + mean(student − teacher) / (teacher − random), intervals from the paired differences; "
        f"teacher {loop['teacher_return']:.1f}, uniformly random {loop['random_return']:.1f} over {loop['baseline_episodes']} episodes. "
        f"{loop['episodes_run']} selection episodes and {loop['confirmation']['episodes_run']} confirmation episodes were run."
    )
    if loop.get("cut_by_budget"):
        words += (
            " The budget cut closed-loop scoring short (costlier Pareto students unscored, or intervals resting on fewer"
            " episodes): the choice may not repeat on another machine."
        )
    unscored = [c for c in data["candidates"] if c["id"] in data["pareto"] and c.get("retention") is None]
    if unscored and loop.get("bar") is not None and not loop.get("cut_by_budget"):
        words += f" {len(unscored)} costlier Pareto student(s) were not rolled out: a cheaper one had already cleared the bar."
    dag = loop.get("dagger")
    if dag:
        shipped = "kept the chosen student" if dag["shipped_round"] == 0 else f"round {dag['shipped_round']} replaced the chosen student"
        words += f" DAgger ({dag['rounds_run']} of {dag['iterations']} rounds, on all training rows and visited states, never held-out rows) {shipped}."
    shipped_loop = (data["shipped"] or {}).get("loop")
    if shipped_loop:
        words += f" On fresh confirmation episodes the shipped student keeps {_interval(shipped_loop)}."
        if loop["confirmation"].get("cut_by_budget"):
            words += f" The budget stopped the confirmation before its {loop['confirmation']['episodes_cap']} episodes."
    return words


def _closed_loop_table(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Pareto candidates and DAgger rounds in the environment: return, retention with its interval."""
    head = ["id", "family", "ops", "fidelity (held-out) %", "fidelity (own states) %", "return", "retention [interval] (episodes)"]
    chosen = data["chosen"]["id"] if data["chosen"] else None
    scored = [c for c in data["candidates"] if c.get("retention") is not None]
    rounds = ((data["closed_loop"] or {}).get("dagger") or {}).get("rounds", [])
    rows = []
    for c in [*scored, *rounds]:
        label = f"{c['id']}{'★' if c['id'] == chosen else ''}" + (f" DAgger {c['params']['dagger_iteration']}" if "dagger_iteration" in c["params"] else "")
        rows.append(
            [
                label,
                c["family"],
                f"{c['ops_per_decision']:.4g}",
                f"{100 * c['fidelity']:.2f}",
                _share(c["visited_fidelity"]).rstrip("%"),
                f"{c['return_mean']:.1f}",
                _interval(c),
            ]
        )
    return head, rows


def _colour(family: str) -> str:
    """The colour a family declares for plots (grey for one not registered here)."""
    from hybrid.students import registered_families

    cls = registered_families().get(family)
    return cls.colour if cls is not None else "#666666"


# -- html -------------------------------------------------------------------------------------
def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(data: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ok = [c for c in data["candidates"] if c["status"] == "ok"]
    if not ok:
        return []
    by_id = {c["id"]: c for c in ok}
    front = [by_id[i] for i in data["pareto"]]
    teacher = data["teacher"] or {}
    chosen = data["chosen"]["id"] if data["chosen"] else None

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter([1 + c["ops_per_decision"] for c in ok], [c["fidelity"] for c in ok], s=12, c="#bbbbbb", label="all candidates")
    ax.step([1 + c["ops_per_decision"] for c in front], [c["fidelity"] for c in front], where="post", c="k", lw=1)
    for fam in sorted({c["family"] for c in front}):
        pts = [c for c in front if c["family"] == fam]
        ax.scatter([1 + c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=36, c=_colour(fam), label=f"front: {fam}")
    if chosen is not None and chosen in by_id:
        b = by_id[chosen]
        ax.scatter([1 + b["ops_per_decision"]], [b["fidelity"]], s=160, facecolors="none", edgecolors="r", lw=2, label="chosen")
    if teacher.get("ops_per_decision"):
        ax.scatter([1 + teacher["ops_per_decision"]], [1.0], marker="*", s=220, c="gold", edgecolors="k", label=f"teacher ({teacher['name']})")
    ax.set(xscale="log", xlabel="1 + operations per decision", ylabel="fidelity (held-out)", title="Pareto front")
    ax.legend(fontsize=7, loc="lower right")
    plots = [("Pareto front (the teacher marked ★, the chosen student circled)", _png(fig))]

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for fam in sorted({c["family"] for c in ok}):
        pts = [c for c in ok if c["family"] == fam]
        sizes = [8 + 40 * c["n_train"] / max(p["n_train"] for p in ok) for c in pts]
        ax.scatter([1 + c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=sizes, c=_colour(fam), alpha=0.7, label=fam)
    ax.set(xscale="log", xlabel="1 + operations per decision", ylabel="fidelity (held-out)", title="Fidelity against operations (marker size: training states)")
    ax.legend(fontsize=7, loc="lower right")
    plots.append(("Fidelity against operations, every candidate", _png(fig)))
    if data["closed_loop"]:
        plots.append(("Retention in the loop with its interval (circled: chosen; square: shipped, on fresh episodes)", _png(_retention_plot(data))))
    return plots


def _retention_plot(data: dict[str, Any]) -> Any:
    """Retention against operations for every student scored in the loop, with its interval."""
    import matplotlib.pyplot as plt

    loop = data["closed_loop"]
    scored = [c for c in data["candidates"] if c.get("retention") is not None] + list((loop.get("dagger") or {}).get("rounds", []))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in scored:
        colour = _colour(c["family"])
        x, y = 1 + c["ops_per_decision"], c["retention"]
        low, high = max(c["retention_low"], y - 2), min(c["retention_high"], y + 2)  # an open interval of one episode stays on the plot
        ax.errorbar([x], [y], yerr=[[y - low], [high - y]], fmt="o", ms=5, c=colour, capsize=3)
    chosen, shipped = data["chosen"], data["shipped"]
    if chosen and chosen.get("retention") is not None:
        ax.scatter([1 + chosen["ops_per_decision"]], [chosen["retention"]], s=160, facecolors="none", edgecolors="r", lw=2, label="chosen (selection episodes)")
    if shipped and shipped.get("loop"):
        sl = shipped["loop"]
        ax.errorbar(
            [1 + shipped["ops_per_decision"]],
            [sl["retention"]],
            yerr=[[sl["retention"] - sl["retention_low"]], [sl["retention_high"] - sl["retention"]]],
            fmt="s",
            ms=8,
            c="k",
            capsize=4,
            label="shipped (fresh episodes)",
        )
    if loop.get("bar") is not None:
        ax.axhline(loop["bar"], c="r", ls="--", lw=1, label=f"bar {100 * loop['bar']:g}%")
    ax.axhline(1.0, c="gold", lw=1, label="teacher")
    ax.set(xscale="log", xlabel="1 + operations per decision", ylabel="retention of the teacher's return", title="Closed loop")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline PNG plots, no scripts)."""
    e, ds, shipped = html.escape, data["dataset"], data["shipped"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>AutoDistill report</title><style>",
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}pre{background:#f6f6f6;padding:8px}code{font-size:12px}"
        ".plots{display:flex;flex-wrap:wrap;gap:1em}</style></head><body>",
        "<h1>AutoDistill report</h1>",
        f"<p><b>Choice:</b> {e(_choice_words(data))}</p>",
    ]
    if shipped:
        parts.append(f"<p><b>Ships:</b> {e(shipped['source'])} — {e(shipped['reason'])}.</p>")
    parts += [
        f"<p>Search: {e(_stop_words(data))}.</p>",
        f"<p>Dataset <code>{e(ds['content_hash'])}</code>: {e(_dataset_words(data))}.</p>",
    ]
    parts.append(
        "<div class='plots'>"
        + "".join(f"<figure><img alt='{e(title)}' src='{src}'><figcaption>{e(title)}</figcaption></figure>" for title, src in _plots(data))
        + "</div>"
    )
    if shipped:
        parts.append("<h2>Chosen and shipped</h2>" + _table(["figure", "chosen candidate", "shipped student"], _shipped_rows(data)))
        parts.append("<h3>Cost of the shipped student</h3>" + _table(["cost", "value"], _cost_rows(shipped["cost"])))
        if shipped["rules_text"]:
            parts.append(f"<pre>{e(shipped['rules_text'])}</pre>")
        names = ds["action_names"]
        if shipped["confusion"] is not None:  # None for continuous actions
            parts.append("<p>Confusion of the shipped student on held-out states (rows: teacher, columns: student)</p>")
            parts.append(_table(["teacher \\ student", *names], [[names[i], *row] for i, row in enumerate(shipped["confusion"])]))
    if data["closed_loop"]:
        parts.append(f"<h2>Closed loop</h2><p>{e(_closed_loop_words(data))}</p>" + _table(*_closed_loop_table(data)))
    parts.append(_cascade_html(data.get("cascade")))
    parts.append("<h2>Candidates (★ chosen, ◆ Pareto front)</h2>" + _table(_head(data), _candidate_rows(data)))
    parts.append(
        "<h2>Rungs</h2>"
        + _table(
            ["rung", "level", "candidates", "finished", "status"],
            [[r["index"], r["level"], r["candidates"], r["finished"], r["status"]] for r in data["rungs"]],
        )
    )
    hashes = [
        ["dataset", ds["content_hash"]],
        ["config", data["config_hash"]],
        ["chosen model", data["chosen"]["content_hash"] if data["chosen"] else "—"],
        ["shipped model", shipped["content_hash"] if shipped else "—"],
    ]
    parts.append("<h2>Hashes</h2>" + _table(["what", "hash"], hashes))
    if data["ledger_entries"]:
        parts.append(
            "<h2>Ledger entries</h2>"
            + _table(["seq", "kind", "subject", "entry hash"], [[x["seq"], x["kind"], x["subject"], x["entry_hash"]] for x in data["ledger_entries"]])
        )
    parts.append("<h2>Configuration</h2>" + _table(["option", "value"], [[k, v] for k, v in data["config"].items()]))
    parts.append("<p>Versions: " + e(", ".join(f"{k} {v}" for k, v in data["versions"].items())) + "</p></body></html>")
    return "\n".join(parts)
