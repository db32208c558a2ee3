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
_COLOURS = {"tree": "#1b9e77", "rules": "#d95f02", "mlp": "#7570b3", "hybrid": "#e7298a"}


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
def _stop_words(data: dict[str, Any]) -> str:
    cut = [r["index"] for r in data["rungs"] if r["status"] == "cut"]
    why = {None: "the plan finished", "budget": "the budget ran out", "interrupted": "interrupted (Ctrl-C)"}[data["stopped_by"]]
    rungs = f"rungs cut: {', '.join(map(str, cut))}" if cut else "no rung cut"
    note = "" if data["reproducible"] else "; no rung finished whole, so this choice is NOT reproducible"
    base = f"; only students above the {100 * data['baseline_fidelity']:.1f}% of always playing the most common action were eligible"
    return f"{why} after {data['search_s']:.1f} s; {rungs}{base}{note}"


def _candidate_rows(data: dict[str, Any]) -> list[list[str]]:
    front = set(data["pareto"])
    best = data["best"]["candidate"] if data["best"] else None
    rows = []
    for c in data["candidates"]:
        mark = "★" if c["id"] == best else ("◆" if c["id"] in front else "")
        if c["status"] == "ok":
            scores = [f"{100 * c['fidelity']:.2f}", f"{c['kl']:.4f}", f"{c['ops_per_decision']:g}", str(c["parameters"]), str(c["bytes"]), f"{c['latency_us']:.1f}"]
        else:
            scores = [c["status"], (c["error"] or "")[:60], "", "", "", ""]
        params = ", ".join(f"{k}={v}" for k, v in sorted(c["params"].items()) if k != "random_state")
        rows.append([f"{c['id']}{mark}", str(c["rung"]), c["family"], params, str(c["n_train"]), *scores, f"{c['fit_time_s']:.2f}"])
    return rows


_HEAD = ["id", "rung", "family", "params", "n_train", "fidelity %", "KL", "ops", "params#", "bytes", "latency µs", "fit s"]


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown (tables, the rules text, hashes and ledger entries)."""
    ds, best = data["dataset"], data["best"]
    out = ["# AutoDistill report", ""]
    out += [f"**Choice:** {best['choice']}" if best else "**Choice:** none — no candidate finished.", ""]
    out += [f"Search: {_stop_words(data)}.", ""]
    out += [f"Dataset `{ds['content_hash']}`: {ds['n_states']} states × {ds['n_features']} features, actions {', '.join(ds['action_names'])}.", ""]
    out += ["## Configuration", "", "| option | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in data["config"].items()] + [f"| config hash | `{data['config_hash']}` |", ""]
    out += ["## Candidates (★ chosen, ◆ Pareto front)", "", "| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    out += ["| " + " | ".join(r) + " |" for r in _candidate_rows(data)] + [""]
    if best:
        out += ["## Chosen student", "", f"Model hash `{best['content_hash']}`; cost {best['cost']}.", ""]
        if best["rules_text"]:
            out += ["```", best["rules_text"].rstrip(), "```", ""]
        if best["confusion"]:
            names = ds["action_names"]
            out += ["Confusion on held-out states (rows: teacher, columns: student):", "", "| teacher \\ student | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
            out += [f"| {names[i]} | " + " | ".join(map(str, row)) + " |" for i, row in enumerate(best["confusion"])] + [""]
    if data["closed_loop"]:
        head, rows = _closed_loop_table(data)
        out += ["## Closed loop", "", _closed_loop_words(data), "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    out += _cascade_markdown(data.get("cascade"))
    out += ["## Rungs", "", "| rung | level | candidates | finished | status |", "|---|---|---|---|---|"]
    out += [f"| {r['index']} | {r['level']} | {r['candidates']} | {r['finished']} | {r['status']} |" for r in data["rungs"]] + [""]
    if data["ledger_entries"]:
        out += ["## Ledger entries", "", "| seq | kind | subject | entry hash |", "|---|---|---|---|"]
        out += [f"| {e['seq']} | {e['kind']} | `{e['subject']}` | `{e['entry_hash']}` |" for e in data["ledger_entries"]] + [""]
    out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()), ""]
    return "\n".join(out)


def _closed_loop_words(data: dict[str, Any]) -> str:
    """The closed-loop baseline and the DAgger outcome in one paragraph."""
    loop = data["closed_loop"]
    words = (f"Returns over {loop['episodes']} episodes: teacher {loop['teacher_return']:.1f}, uniformly random policy "
             f"{loop['random_return']:.1f}; retention = (return − random) / (teacher − random).")
    dag = loop.get("dagger")
    if dag:
        changed = "kept the cloned student" if dag["best_iteration"] == 0 else f"iteration {dag['best_iteration']} replaced the cloned student"
        words += (f" DAgger ({dag['iterations']} rounds) {changed}: return {dag['return_mean']:.1f}, retention "
                  f"{100 * dag['retention']:.1f}%, agreement with the teacher on the student's own states "
                  f"{100 * dag['visited_fidelity']:.1f}%.")
    return words


def _closed_loop_table(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Pareto candidates rolled out in the environment: return, retention, own-state fidelity."""
    head = ["id", "family", "ops", "fidelity (held-out) %", "fidelity (own states) %", "return", "retention %"]
    best = data["best"]["candidate"] if data["best"] else None
    rows = [[f"{c['id']}{'★' if c['id'] == best else ''}", c["family"], f"{c['ops_per_decision']:.4g}", f"{100 * c['fidelity']:.2f}",
             f"{100 * c['visited_fidelity']:.2f}", f"{c['return_mean']:.1f}", f"{100 * c['retention']:.1f}"]
            for c in data["candidates"] if c.get("retention") is not None]
    return head, rows


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
    best = data["best"]["candidate"] if data["best"] else None

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter([1 + c["ops_per_decision"] for c in ok], [c["fidelity"] for c in ok], s=12, c="#bbbbbb", label="all candidates")
    ax.step([1 + c["ops_per_decision"] for c in front], [c["fidelity"] for c in front], where="post", c="k", lw=1)
    for fam in sorted({c["family"] for c in front}):
        pts = [c for c in front if c["family"] == fam]
        ax.scatter([1 + c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=36, c=_COLOURS.get(fam), label=f"front: {fam}")
    if best is not None:
        b = by_id[best]
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
        ax.scatter([1 + c["ops_per_decision"] for c in pts], [c["fidelity"] for c in pts], s=sizes, c=_COLOURS.get(fam), alpha=0.7, label=fam)
    ax.set(xscale="log", xlabel="1 + operations per decision", ylabel="fidelity (held-out)", title="Fidelity against operations (marker size: training states)")
    ax.legend(fontsize=7, loc="lower right")
    plots.append(("Fidelity against operations, every candidate", _png(fig)))
    return plots


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline PNG plots, no scripts)."""
    e, ds, best = html.escape, data["dataset"], data["best"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>AutoDistill report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px}pre{background:#f6f6f6;padding:8px}code{font-size:12px}</style></head><body>",
             "<h1>AutoDistill report</h1>",
             f"<p><b>Choice:</b> {e(best['choice']) if best else 'none — no candidate finished.'}</p>",
             f"<p>Search: {e(_stop_words(data))}.</p>",
             f"<p>Dataset <code>{e(ds['content_hash'])}</code>: {ds['n_states']} states × {ds['n_features']} features; actions {e(', '.join(ds['action_names']))}.</p>"]
    parts += [f"<h2>{e(title)}</h2><img alt='{e(title)}' src='{src}'>" for title, src in _plots(data)]
    if best:
        parts.append(f"<h2>Chosen student</h2><p>Model hash <code>{e(best['content_hash'])}</code>; cost {e(str(best['cost']))}.</p>")
        if best["rules_text"]:
            parts.append(f"<pre>{e(best['rules_text'])}</pre>")
        if best["confusion"]:
            names = ds["action_names"]
            parts.append("<p>Confusion on held-out states (rows: teacher, columns: student)</p>")
            parts.append(_table(["teacher \\ student", *names], [[names[i], *row] for i, row in enumerate(best["confusion"])]))
    if data["closed_loop"]:
        parts.append(f"<h2>Closed loop</h2><p>{e(_closed_loop_words(data))}</p>" + _table(*_closed_loop_table(data)))
    parts.append(_cascade_html(data.get("cascade")))
    parts.append("<h2>Candidates (★ chosen, ◆ Pareto front)</h2>" + _table(_HEAD, _candidate_rows(data)))
    parts.append("<h2>Rungs</h2>" + _table(["rung", "level", "candidates", "finished", "status"], [[r["index"], r["level"], r["candidates"], r["finished"], r["status"]] for r in data["rungs"]]))
    hashes = [["dataset", ds["content_hash"]], ["config", data["config_hash"]], ["chosen model", best["content_hash"] if best else "—"]]
    parts.append("<h2>Hashes</h2>" + _table(["what", "hash"], hashes))
    if data["ledger_entries"]:
        parts.append("<h2>Ledger entries</h2>" + _table(["seq", "kind", "subject", "entry hash"], [[x["seq"], x["kind"], x["subject"], x["entry_hash"]] for x in data["ledger_entries"]]))
    parts.append("<h2>Configuration</h2>" + _table(["option", "value"], [[k, v] for k, v in data["config"].items()]))
    parts.append("<p>Versions: " + e(", ".join(f"{k} {v}" for k, v in data["versions"].items())) + "</p></body></html>")
    return "\n".join(parts)
