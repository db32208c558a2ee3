"""Lineage: the graph of what was derived from what, from the entries' parents.

Nodes are subject hashes (datasets, teachers, searches, models, exports, and parents never
recorded themselves); edges run parent → child. networkx is imported when a graph is built,
not when ``provenance`` is imported, so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from provenance.ledger import Entry

if TYPE_CHECKING:
    import networkx as nx

#: Kinds that record an artifact; key rotations and revocations are about other entries.
ARTIFACT_KINDS = ("dataset", "teacher", "search", "model", "export", "note")


def lineage_graph(entries: Iterable[Entry]) -> nx.DiGraph:
    """DiGraph of subjects with ``kind``, ``seq`` and ``entry_hash`` of their latest entry."""
    import networkx as nx

    graph = nx.DiGraph()
    for e in entries:
        if e.kind not in ARTIFACT_KINDS:
            continue
        graph.add_node(e.subject, kind=e.kind, seq=e.seq, entry_hash=e.entry_hash)
        graph.add_edges_from((p, e.subject) for p in e.parents)
    return graph


def ancestors(graph: nx.DiGraph, subject: str) -> set[str]:
    """Everything ``subject`` was derived from (empty when it is not in the graph)."""
    import networkx as nx

    return nx.ancestors(graph, subject) if subject in graph else set()


def descendants(graph: nx.DiGraph, subject: str) -> set[str]:
    """Everything derived from ``subject`` (empty when it is not in the graph)."""
    import networkx as nx

    return nx.descendants(graph, subject) if subject in graph else set()


def to_dot(graph: nx.DiGraph, highlight: Iterable[str] = ()) -> str:
    """Graphviz DOT text, labelled by kind and short hash; ``highlight`` nodes drawn bold red."""
    marked = set(highlight)
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for node, data in sorted(graph.nodes(data=True), key=lambda nd: (nd[1].get("seq", -1), nd[0])):
        label = f"{data.get('kind', 'external')}\\n{node[:19]}"
        style = ", color=red, penwidth=2" if node in marked else ""
        lines.append(f'  "{node}" [label="{label}"{style}];')
    lines += [f'  "{a}" -> "{b}";' for a, b in sorted(graph.edges())]
    return "\n".join([*lines, "}"]) + "\n"
