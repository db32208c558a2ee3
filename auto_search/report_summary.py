"""The first screen of a search report: a person's four questions answered in plain words and
big numbers before any plot or table.

What ships (the family, where the model is), how good (held-out fidelity, retention with its
interval, a cascade's agreement — MISSED in red wherever a declared bound misses), how cheap
(operations per decision and their share of the teacher's, bytes, one decision's latency) and
can I trust it (the states and episodes behind each figure, the ledger entry). Also the small
script that makes long tables sortable by a click on their heading (the page stays one file).
"""

from __future__ import annotations

import html
from typing import Any

OPS_WORDS = "an operation is one comparison, multiply-add or table lookup the student makes per decision"

FIRST_SCREEN_CSS = (
    ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:1em 0}"
    ".card{border:1px solid #ddd;border-radius:8px;padding:10px 12px;background:#fafafa}"
    ".card h2{font-size:14px;margin:0 0 6px;color:#555;font-weight:normal}"
    ".big{font-size:28px;font-weight:bold;line-height:1.15}.small{font-size:12px;color:#444;margin:4px 0}"
    ".missed{color:#b00020}.met{color:#1b7f3b}details{margin:.6em 0}summary{cursor:pointer;font-weight:bold}"
    "th.sortable{cursor:pointer;background:#f0f0f0}"
)

SORT_SCRIPT = """<script>
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, i) {
    th.classList.add('sortable'); th.title = 'sort by this column';
    th.addEventListener('click', function () {
      var rows = Array.from(t.querySelectorAll('tr')).slice(1), up = th.dataset.up !== '1';
      var key = function (r) { var v = r.children[i].textContent.replace(/[%★◆,]/g, ''); var n = parseFloat(v); return isNaN(n) ? v : n; };
      rows.sort(function (a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (up ? 1 : -1); });
      th.dataset.up = up ? '1' : '0'; rows.forEach(function (r) { t.appendChild(r); });
    });
  });
});
</script>"""


def first_screen(data: dict[str, Any]) -> str:
    """The four answer cards as HTML (empty when nothing shipped)."""
    shipped = data.get("shipped")
    if not shipped:
        return ""
    cards = [_what_ships(data, shipped), _how_good(data, shipped), _how_cheap(data, shipped), _trust(data, shipped)]
    return "<div class='cards'>" + "".join(cards) + "</div>"


def headline(data: dict[str, Any]) -> str:
    """One plain sentence on what the search did (no rung jargon)."""
    ok = sum(c["status"] == "ok" for c in data["candidates"])
    why = {None: "tried its whole plan", "budget": "used its time budget", "interrupted": "was interrupted"}[data["stopped_by"]]
    fams = sorted({c["family"] for c in data["candidates"] if c["status"] == "ok"})
    return f"The search {why} in {data['search_s']:.0f} s: it fitted {ok} students of {len(fams)} kinds ({', '.join(fams)}) and kept the best trade-off."


def _card(title: str, big: str, lines: list[str], css: str = "") -> str:
    body = "".join(f"<p class='small'>{line}</p>" for line in lines)
    return f"<div class='card'><h2>{html.escape(title)}</h2><div class='big {css}'>{big}</div>{body}</div>"


def _what_ships(data: dict[str, Any], shipped: dict[str, Any]) -> str:
    e = html.escape
    return _card(
        "What ships",
        e(shipped["family"]),
        [e(f"{shipped['source']}, in model/model.json with its exports beside it"), f"<code>{e(shipped['content_hash'][:19])}…</code>"],
    )


def _how_good(data: dict[str, Any], shipped: dict[str, Any]) -> str:
    e = html.escape
    held = _held_out(data)
    lines = [e(f"agrees with the teacher on {100 * shipped['fidelity']:.1f}% of {held} held-out states")]
    big, css = f"{100 * shipped['fidelity']:.1f}%", ""
    loop = shipped.get("loop")
    if loop:
        big = f"{100 * loop['retention']:.1f}%"
        lines.insert(0, e(f"of the teacher's return kept, interval [{100 * loop['retention_low']:.1f}, {100 * loop['retention_high']:.1f}]%"))
    claim = shipped.get("claim")
    if claim:
        css = "met" if claim["bound_met"] else "missed"
        bar = f"retention ≥ {100 * claim['bar']:g}%"
        lines.insert(0, f"<b class='{css}'>{'MET' if claim['bound_met'] else 'MISSED'}</b> {e(bar)}")
    cascade = data.get("cascade")
    if cascade:
        ok = cascade["met"]
        agree = cascade["held_out"]["agreement_decided"]
        shown = "n/a" if agree is None else f"{100 * agree:.1f}%"
        words = f"agreement ≥ {100 * cascade['agreement_at_least']:g}% on the {100 * cascade['held_out']['coverage']:.0f}% it decides: {shown}"
        lines.insert(0, f"<b class='{'met' if ok else 'missed'}'>{'MET' if ok else 'MISSED'}</b> " + e(words))
        css = css or ("met" if ok else "missed")
    return _card("How good", big, lines, css)


def _how_cheap(data: dict[str, Any], shipped: dict[str, Any]) -> str:
    e = html.escape
    ops = shipped["ops_per_decision"]
    teacher_ops = (data.get("teacher") or {}).get("ops_per_decision")
    lines = [e(f"operations per decision ({OPS_WORDS})")]
    if teacher_ops:
        lines.append(e(f"{100 * ops / teacher_ops:.2g}% of the teacher's {teacher_ops:,.0f}"))
    latency = (data.get("chosen") or {}).get("latency_us")
    lines.append(e(f"{shipped['bytes']:,} bytes" + (f"; one decision in {latency:.1f} µs (Python predict)" if latency else "")))
    return _card("How cheap", e(f"{ops:,.1f}" if ops < 100 else f"{ops:,.0f}"), lines)


def _trust(data: dict[str, Any], shipped: dict[str, Any]) -> str:
    e = html.escape
    ds = data["dataset"]
    lines = [e(f"{ds['n_states']:,} teacher decisions, {_held_out(data):,} of them held out for scoring")]
    loop = shipped.get("loop")
    if loop:
        lines.append(e(f"retention on {loop['loop_episodes']} fresh episodes no choice saw"))
    model = next((x for x in data.get("ledger_entries") or [] if x["kind"] == "model" and x["subject"] == shipped["content_hash"]), None)
    big = "signed" if model else "not recorded"
    lines.append(e(f"ledger entry {model['seq']} ({model['entry_hash'][:19]}…)") if model else e("record it with --ledger and --key (or auto_search.record)"))
    if not data["reproducible"]:
        lines.append("<b class='missed'>the choice may not repeat</b>: no step of the search finished whole")
    return _card("Can I trust it", e(big), lines, "" if model else "missed" if not data["reproducible"] else "")


def _held_out(data: dict[str, Any]) -> int:
    n = data["dataset"]["n_states"]
    return n - int(round(n * (1 - data["config"]["val_fraction"])))
