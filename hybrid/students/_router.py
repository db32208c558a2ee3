"""A binary search tree over rule boxes: finds the first rule that holds in ~depth comparisons.

A hybrid's enabled rules are boxes (one interval per column, a column being a feature or an
oblique projection). Trying them one by one costs every condition of every rule tried — for a
state no rule covers, all of them. The router asks instead one question per node (``column ≤
bound``, a bound taken from the boxes themselves, so the answer is exact) until the region left
lies inside one box (that rule decides) or meets none (the fallback decides). It returns exactly
what the ordered list would (the first rule that holds), including for overlapping boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.students.rules import Condition, Rule

Interval = tuple[float | None, float | None]  # (lower, upper]: None is unbounded


@dataclass(frozen=True)
class Router:
    """Nodes in arrays: ``column[i] < 0`` marks a leaf whose ``rule[i]`` decides (-1: the fallback)."""

    columns: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]
    column: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    rule: np.ndarray

    def route(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per state: the index of the rule that decides (-1: none), and the operations spent
        (one comparison per node passed, plus the multiply-adds of an oblique column the first
        time its path tests it: the exports compute it once there and reuse it below)."""
        values = np.column_stack([Condition(f, w, None, None).value(X) for f, w in self.columns] or [np.zeros(X.shape[0])])
        weighted = np.array([len(f) if w != (1.0,) else 0 for f, w in self.columns] or [0])
        node = np.zeros(X.shape[0], dtype=np.int64)
        ops = np.zeros(X.shape[0])
        computed = np.zeros((X.shape[0], max(len(self.columns), 1)), dtype=bool)  # oblique sums already on the state's path
        active = np.flatnonzero(self.column[node] >= 0)
        while active.size:
            cols = self.column[node[active]]
            z = values[active, cols]
            ops[active] += 1 + np.where(computed[active, cols], 0, weighted[cols])
            computed[active, cols] = True
            go_left = z <= self.threshold[node[active]]
            node[active] = np.where(go_left, self.left[node[active]], self.right[node[active]])
            active = active[self.column[node[active]] >= 0]
        return self.rule[node], ops

    def source(self, language: str, indent: str) -> list[str]:
        """Nested if/else returning the rule index (-1: fallback), as Python or C lines. An
        oblique sum is computed into a local (``z<column>``) where its path first tests it and
        reused below, as ``route`` counts it."""
        lines: list[str] = []
        self._emit(0, language, indent, lines, frozenset())
        return lines

    def _emit(self, i: int, language: str, pad: str, lines: list[str], computed: frozenset[int]) -> None:
        if self.column[i] < 0:
            lines.append(f"{pad}return {int(self.rule[i])}{';' if language == 'c' else ''}")
            return
        c = int(self.column[i])
        f, w = self.columns[c]
        if w == (1.0,):
            z = f"state[{f[0]}]"
        else:
            z = f"z{c}"
            if c not in computed:
                total = " + ".join(f"{v!r} * state[{j}]" for j, v in zip(f, w))
                lines.append(f"{pad}{z} = {total}" if language == "python" else f"{pad}const double {z} = {total};")
                computed = computed | {c}
        bound = repr(float(self.threshold[i]))
        inner = pad + "    "
        lines.append(f"{pad}if {z} <= {bound}:" if language == "python" else f"{pad}if ({z} <= {bound}) {{")
        self._emit(int(self.left[i]), language, inner, lines, computed)
        lines.append(f"{pad}else:" if language == "python" else f"{pad}}} else {{")
        self._emit(int(self.right[i]), language, inner, lines, computed)
        if language == "c":
            lines.append(f"{pad}}}")


def build_router(rules: list[Rule]) -> Router:
    """The search tree for ``rules`` (in their order: the first that holds wins)."""
    columns: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    boxes = []
    for rule in rules:
        box: dict[int, Interval] = {}
        for c in rule.conditions:
            key = (tuple(c.features), tuple(float(v) for v in c.weights))
            if key not in columns:
                columns.append(key)
            col = columns.index(key)
            box[col] = _meet(box.get(col, (None, None)), (c.lower, c.upper))
        boxes.append(box)
    nodes: list[list[Any]] = []  # [column, threshold, left, right, rule]
    _grow(boxes, {}, list(range(len(boxes))), nodes)
    a = np.array(nodes, dtype=object).reshape(-1, 5)
    return Router(
        tuple(columns), a[:, 0].astype(np.int64), a[:, 1].astype(np.float64), a[:, 2].astype(np.int64), a[:, 3].astype(np.int64), a[:, 4].astype(np.int64)
    )


def _grow(boxes: list[dict[int, Interval]], region: dict[int, Interval], live: list[int], nodes: list[list[Any]]) -> int:
    """Add the subtree for ``region`` (met only by boxes ``live``, in rule order); return its node."""
    i = len(nodes)
    nodes.append([-1, 0.0, -1, -1, -1])
    live = [b for b in live if _intersects(boxes[b], region)]
    if not live or _inside(region, boxes[live[0]]):
        nodes[i][4] = live[0] if live else -1
        return i
    col, bound = _best_split(boxes, region, live)
    lo, hi = region.get(col, (None, None))
    left = _grow(boxes, {**region, col: (lo, bound)}, live, nodes)
    right = _grow(boxes, {**region, col: (bound, hi)}, live, nodes)
    nodes[i][:4] = [col, bound, left, right]
    return i


def _best_split(boxes: list[dict[int, Interval]], region: dict[int, Interval], live: list[int]) -> tuple[int, float]:
    """The box bound inside the region that leaves the fewest boxes to tell apart on both sides
    (ties: the first rule's bounds, the lower column, the lower bound), so the tree stays shallow."""
    best: tuple[Any, ...] | None = None
    for rank, b in enumerate(live):
        for col, (lo_b, hi_b) in sorted(boxes[b].items()):
            lo, hi = region.get(col, (None, None))
            for v in (lo_b, hi_b):
                if v is None or (lo is not None and v <= lo) or (hi is not None and v >= hi):
                    continue
                left = sum(_intersects(boxes[o], {**region, col: (lo, v)}) for o in live)
                right = sum(_intersects(boxes[o], {**region, col: (v, hi)}) for o in live)
                key = (max(left, right), left + right, rank, col, v)
                if best is None or key < best:
                    best = key
    assert best is not None  # the first live box meets the region without containing it
    return best[3], best[4]


def _meet(a: Interval, b: Interval) -> Interval:
    lo = a[0] if b[0] is None else b[0] if a[0] is None else max(a[0], b[0])
    hi = a[1] if b[1] is None else b[1] if a[1] is None else min(a[1], b[1])
    return lo, hi


def _intersects(box: dict[int, Interval], region: dict[int, Interval]) -> bool:
    for col, iv in box.items():
        lo, hi = _meet(iv, region.get(col, (None, None)))
        if lo is not None and hi is not None and lo >= hi:
            return False
    return True


def _inside(region: dict[int, Interval], box: dict[int, Interval]) -> bool:
    for col, (lo_b, hi_b) in box.items():
        lo, hi = region.get(col, (None, None))
        if lo_b is not None and (lo is None or lo < lo_b):
            return False
        if hi_b is not None and (hi is None or hi > hi_b):
            return False
    return True
