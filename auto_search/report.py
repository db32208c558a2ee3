"""Write a search report — report.json, report.md, report.html — from one data object.

The HTML is self-contained: plots are matplotlib PNGs inlined as base64, no scripts, no
external files, so it can be mailed or attached to a ticket. The three files are written into
a temporary folder and moved into place together: a crash never leaves a partial report.

The report renders its core (choice, shipped student, dataset, candidates, rungs, ledger) and
every section other modules registered (:mod:`auto_search.sections`: the closed loop, a
cascade, a data mix) whose data it holds. What differs between kinds of action is asked of the
action space the data describe (:func:`report_action_space`).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from auto_search.closed_loop import claim_verdict
from auto_search.report_summary import FIRST_SCREEN_CSS, OPS_WORDS, SORT_SCRIPT, first_screen, headline
from auto_search.sections import family_colour, html_table, interval, markdown_table, ops_axis, png, report_sections, share
from hybrid.spaces import ActionSpace, DiscreteActions

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


_DIVERGENCE = {"kl": "KL", "nmse": "nMSE"}  # how the report heads the divergence an action space names


def report_action_space(data: dict[str, Any]) -> ActionSpace:
    """The action space of the searched dataset, rebuilt from the report's dataset summary
    (the one place the report reads the kind of action)."""
    ds = data["dataset"]
    return ActionSpace.from_dict(
        {
            "kind": ds.get("action_kind", DiscreteActions.kind),
            "names": ds["action_names"],
            "low": ds.get("action_low"),
            "high": ds.get("action_high"),
            "tolerance": ds.get("fidelity_tolerance"),
        }
    )


def _divergence(data: dict[str, Any]) -> str:
    return _DIVERGENCE[report_action_space(data).divergence_name]


def _head(data: dict[str, Any]) -> list[str]:
    """Candidate columns; the ``kl`` field holds the action space's divergence."""
    return [(_divergence(data) if h == "KL" else h) for h in _HEAD]


def _dataset_words(data: dict[str, Any]) -> str:
    """Size, actions and how fidelity is counted, e.g. ``…, continuous actions torque in
    [-2, 2]; fidelity: share of held-out states with every action within 5% of its range …``."""
    ds = data["dataset"]
    return f"{ds['n_states']} states × {ds['n_features']} features, {report_action_space(data).describe()}"


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
        [f"held-out {_divergence(data)}", f"{chosen['kl']:.4f}", f"{shipped['kl']:.4f}"],
        ["ops per decision", f"{chosen['ops_per_decision']:g}", f"{shipped['ops_per_decision']:g}"],
        ["parameters", str(chosen["parameters"]), str(shipped["parameters"])],
        ["bytes", str(chosen["bytes"]), str(shipped["bytes"])],
    ]
    if data["closed_loop"]:
        loop = shipped["loop"] or {}
        rows += [
            ["retention (interval, episodes)", f"{interval(chosen)} selection episodes", f"{interval(loop)} fresh episodes"],
            ["fidelity on own states", share(chosen.get("visited_fidelity")), share(loop.get("visited_fidelity"))],
        ]
    return rows


def _cost_rows(cost: dict[str, Any]) -> list[list[str]]:
    return [[k.replace("_", " "), f"{v:g}" if isinstance(v, float) else str(v)] for k, v in cost.items()]


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown (tables, the rules text, hashes and ledger entries)."""
    ds, shipped = data["dataset"], data["shipped"]
    out = ["# AutoDistill report", ""]
    if shipped and shipped.get("claim"):
        out += [f"**{claim_verdict(shipped['claim'])}**", ""]
    out += [f"**Choice:** {_choice_words(data)}", ""]
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
        if shipped["confusion"] is not None:  # None for a Box
            out += [
                "Confusion of the shipped student on held-out states (rows: teacher, columns: student):",
                "",
                "| teacher \\ student | " + " | ".join(names) + " |",
                "|" + "---|" * (len(names) + 1),
            ]
            out += [f"| {names[i]} | " + " | ".join(map(str, row)) + " |" for i, row in enumerate(shipped["confusion"])] + [""]
    for section in _sections(data):
        out += section.markdown(data)
    out += ["## Configuration", "", "| option | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in data["config"].items()] + [f"| config hash | `{data['config_hash']}` |", ""]
    out += ["## Candidates (★ chosen, ◆ Pareto front)", "", *markdown_table(_head(data), _candidate_rows(data)), ""]
    out += ["## Rungs", "", "| rung | level | candidates | finished | status | rows read |", "|---|---|---|---|---|---|"]
    out += [f"| {r['index']} | {r['level']} | {r['candidates']} | {r['finished']} | {r['status']} | {r.get('rows_read', '—')} |" for r in data["rungs"]] + [""]
    if data["ledger_entries"]:
        out += ["## Ledger entries", "", "| seq | kind | subject | entry hash |", "|---|---|---|---|"]
        out += [f"| {e['seq']} | {e['kind']} | `{e['subject']}` | `{e['entry_hash']}` |" for e in data["ledger_entries"]] + [""]
    out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()), ""]
    return "\n".join(out)


def _sections(data: dict[str, Any]) -> list[Any]:
    """The registered sections whose data this report holds, in their order."""
    return [section for section in report_sections() if data.get(section.key)]


# -- html -------------------------------------------------------------------------------------
def pareto_figure(data: dict[str, Any]) -> tuple[Any, str]:
    """The Pareto front of a report's data as a matplotlib figure, and its caption: every
    candidate, the front by family, the chosen student circled, the teacher drawn."""
    import matplotlib.pyplot as plt

    ok = [c for c in data["candidates"] if c["status"] == "ok"]
    by_id = {c["id"]: c for c in ok}
    front = [by_id[i] for i in data["pareto"] if i in by_id]
    teacher = data["teacher"] or {}
    chosen = data["chosen"]["id"] if data["chosen"] else None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter([c["ops_per_decision"] for c in ok], [c["fidelity"] for c in ok], s=12, c="#bbbbbb", label="all candidates")
    ax.plot([c["ops_per_decision"] for c in front], [c["fidelity"] for c in front], c="k", lw=1)
    for fam in sorted({c["family"] for c in front}):
        pts = [c for c in front if c["family"] == fam]
        ax.scatter([c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=36, c=family_colour(fam), label=f"front: {fam}")
    if chosen is not None and chosen in by_id:
        b = by_id[chosen]
        ax.scatter([b["ops_per_decision"]], [b["fidelity"]], s=160, facecolors="none", edgecolors="r", lw=2, label="chosen", zorder=5)
    if teacher.get("ops_per_decision"):
        ax.scatter([teacher["ops_per_decision"]], [1.0], marker="*", s=220, c="gold", edgecolors="k", label=f"teacher ({teacher['name']})", zorder=5)
        teacher_words = "the teacher ★"
    else:
        ax.axhline(1.0, c="gold", lw=1.5, label="teacher (fidelity 100% by definition)")
        teacher_words = "the teacher as the gold line"
    ops_axis(ax)
    ax.set(ylabel="fidelity (share of held-out states agreeing)", title="Pareto front: fidelity against cost")
    ax.legend(fontsize=7, loc="lower right")
    return fig, f"Pareto front ({teacher_words}, the chosen student circled)"


def _plots(data: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ok = [c for c in data["candidates"] if c["status"] == "ok"]
    if not ok:
        return []
    fig, caption = pareto_figure(data)
    plots = [(caption, png(fig))]

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for fam in sorted({c["family"] for c in ok}):
        pts = [c for c in ok if c["family"] == fam]
        sizes = [8 + 40 * c["n_train"] / max(p["n_train"] for p in ok) for c in pts]
        ax.scatter([c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=sizes, c=family_colour(fam), alpha=0.7, label=fam)
    ops_axis(ax)
    ax.set(ylabel="fidelity (held-out)", title="Every candidate (marker size: training states)")
    ax.legend(fontsize=7, loc="lower right")
    plots.append(("Fidelity against operations, every candidate", png(fig)))
    for section in _sections(data):
        plots += section.plots(data)
    return plots


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page: the four answers first (:mod:`auto_search.report_summary`),
    then the plots, then every detail collapsed; long tables sort by a click on their heading."""
    e, ds, shipped = html.escape, data["dataset"], data["shipped"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>AutoDistill report</title><style>",
        "body{font-family:sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}pre{background:#f6f6f6;padding:8px}code{font-size:12px}"
        ".plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}" + FIRST_SCREEN_CSS + "</style></head><body>",
        "<h1>AutoDistill report</h1>",
        f"<p>{e(headline(data))}</p>",
        first_screen(data),
        *(
            [f"<p><b class='{'met' if shipped['claim']['bound_met'] else 'missed'}'>{e(claim_verdict(shipped['claim']))}</b></p>"]
            if shipped and shipped.get("claim")
            else []
        ),
    ]
    parts.append(
        "<div class='plots'>"
        + "".join(f"<figure><img alt='{e(title)}' src='{src}'><figcaption>{e(title)}</figcaption></figure>" for title, src in _plots(data))
        + "</div>"
    )
    why = [
        f"<p><b>Choice:</b> {e(_choice_words(data))}</p>",
        *([f"<p><b>Ships:</b> {e(shipped['source'])} — {e(shipped['reason'])}.</p>"] if shipped else []),
        f"<p>Search: {e(_stop_words(data))}.</p>",
        f"<p>Dataset <code>{e(ds['content_hash'])}</code>: {e(_dataset_words(data))}.</p>",
    ]
    parts.append(_details("Why this student", "".join(why), open_=True))
    if shipped:
        head, rows = _shipped_table(data)
        body = (
            html_table(head, rows) + f"<p>{e(OPS_WORDS)}.</p><h3>Cost of the shipped student</h3>" + html_table(["cost", "value"], _cost_rows(shipped["cost"]))
        )
        if shipped["rules_text"]:
            body += f"<pre>{e(shipped['rules_text'])}</pre>"
        names = ds["action_names"]
        if shipped["confusion"] is not None:  # None for a Box
            body += "<p>Confusion of the shipped student on held-out states (rows: teacher, columns: student)</p>"
            body += html_table(["teacher \\ student", *names], [[names[i], *row] for i, row in enumerate(shipped["confusion"])])
        parts.append(_details("Chosen and shipped: the student, figure by figure", body))
    parts += [_details(section.key.replace("_", " ").capitalize(), section.html(data)) for section in _sections(data)]
    n_ok = sum(c["status"] == "ok" for c in data["candidates"])
    parts.append(
        _details(
            f"All {len(data['candidates'])} candidates ({n_ok} finished; ★ chosen, ◆ Pareto front)", _sortable(html_table(_head(data), _candidate_rows(data)))
        )
    )
    rungs = [[r["index"], r["level"], r["candidates"], r["finished"], r["status"], r.get("rows_read", "—")] for r in data["rungs"]]
    parts.append(
        _details(
            f"Search steps ({len(rungs)}: each one fit of a set of candidates on a share of the data)",
            _sortable(html_table(["step", "level", "candidates", "finished", "status", "rows read"], rungs)),
        )
    )
    hashes = [
        ["dataset", ds["content_hash"]],
        ["config", data["config_hash"]],
        ["chosen model", data["chosen"]["content_hash"] if data["chosen"] else "—"],
        ["shipped model", shipped["content_hash"] if shipped else "—"],
    ]
    ledger = data["ledger_entries"]
    trust = html_table(["what", "hash"], hashes)
    if ledger:
        trust += "<h3>Ledger entries</h3>" + html_table(
            ["seq", "kind", "subject", "entry hash"], [[x["seq"], x["kind"], x["subject"], x["entry_hash"]] for x in ledger]
        )
    parts.append(_details("Hashes and ledger entries", trust))
    config = html_table(["option", "value"], [[k, v] for k, v in data["config"].items()])
    parts.append(_details("Configuration and versions", config + "<p>Versions: " + e(", ".join(f"{k} {v}" for k, v in data["versions"].items())) + "</p>"))
    parts.append(SORT_SCRIPT + "</body></html>")
    return "\n".join(parts)


def _details(title: str, body: str, *, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{html.escape(title)}</summary>{body}</details>"


def _sortable(table: str) -> str:
    return table.replace("<table>", "<table class='sortable'>", 1)


def _shipped_table(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The shipped student's figures; beside the chosen candidate's only when they differ (a DAgger round or another candidate shipped)."""
    rows = _shipped_rows(data)
    if data["chosen"]["content_hash"] == data["shipped"]["content_hash"]:
        return ["figure", "shipped student (the chosen candidate)"], [[r[0], r[2]] for r in rows]
    return ["figure", "chosen candidate", "shipped student"], rows
