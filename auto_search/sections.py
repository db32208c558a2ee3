"""Report sections that other modules contribute, and the small helpers every section uses.

The report (:mod:`auto_search.report`) renders its own core — choice, shipped student, dataset,
candidates, rungs, ledger — and then every registered section whose data ``report.json`` holds.
A module that adds a figure to a search (the closed loop, a cascade, a data mix) registers how
to show it here, so the report imports none of them: ``register_section("cascade", …)`` with
its Markdown lines, its HTML and optional plots, each read from the report's data.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Data = dict[str, Any]


def _no_plots(data: Data) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class ReportSection:
    """How one section shows its part of the report data (``data[key]``; skipped when empty).

    ``markdown`` and ``html`` render the section from the whole report data; ``plots`` returns
    ``(title, PNG data URI)`` pairs shown with the report's own plots at the top of the HTML.
    Sections render by ``order`` (then key), whichever module was imported first.
    """

    key: str
    order: int
    markdown: Callable[[Data], list[str]]
    html: Callable[[Data], str]
    plots: Callable[[Data], list[tuple[str, str]]] = _no_plots


_SECTIONS: dict[str, ReportSection] = {}


def register_section(section: ReportSection) -> ReportSection:
    """Add (or replace) a report section."""
    _SECTIONS[section.key] = section
    return section


def report_sections() -> tuple[ReportSection, ...]:
    """The registered sections, in their declared order."""
    return tuple(sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key)))


def png(fig: Any) -> str:
    """A matplotlib figure as an inline PNG data URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def family_colour(family: str) -> str:
    """The colour a family declares for plots (grey for one not registered here)."""
    from hybrid.students import registered_families

    cls = registered_families().get(family)
    return cls.colour if cls is not None else "#666666"


def interval(x: dict[str, Any]) -> str:
    """Retention with its interval and episodes, e.g. ``99.6% [98.9, 100.3] (20 ep.)``."""
    if x.get("retention") is None:
        return "—"
    return f"{100 * x['retention']:.1f}% [{100 * x['retention_low']:.1f}, {100 * x['retention_high']:.1f}] ({x['loop_episodes']} ep.)"


def share(x: float | None) -> str:
    """A share as a percentage with two decimals; ``—`` when missing."""
    return "—" if x is None else f"{100 * x:.2f}%"


def html_table(head: list[str], rows: list[list[Any]]) -> str:
    """An HTML table of ``rows`` under ``head`` (every cell escaped)."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table of ``rows`` under ``head``, as lines."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def ops_axis(ax: Any) -> None:
    """Operations per decision on a log axis that also shows 0, with plain tick labels (1, 10, 100)."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("symlog", linthresh=1.0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("operations per decision (log scale)")
