"""The accuracy/cost Pareto front and its hypervolume.

Objectives: maximise fidelity, minimise operations per decision (the analytic, deterministic
cost; measured latency never enters). Operations are compared on a log scale because students
span four orders of magnitude (a stump to a wide MLP).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol


class Scored(Protocol):
    id: int
    fidelity: float | None
    ops_per_decision: float | None


def log_ops(ops: float) -> float:
    """``log10(1 + ops)``: the cost axis of the front (0 for a constant student)."""
    return math.log10(1.0 + max(0.0, float(ops)))


def pareto_front(candidates: Iterable[Scored]) -> list:
    """Non-dominated candidates, cheapest first; exact ties keep the lowest id (deterministic)."""
    pool = [c for c in candidates if c.fidelity is not None and c.ops_per_decision is not None]
    pool.sort(key=lambda c: (c.ops_per_decision, -c.fidelity, c.id))
    front, best = [], -math.inf
    for c in pool:
        if c.fidelity > best:
            front.append(c)
            best = c.fidelity
    return front


def hypervolume(points: Sequence[tuple[float, float]], ref_ops: float) -> float:
    """Area dominated by ``(fidelity, ops)`` points in (fidelity × log10(1+ops)) space, bounded by
    fidelity 0 and ``ref_ops``; points costlier than ``ref_ops`` add nothing."""
    ref = log_ops(ref_ops)
    pts = sorted((log_ops(o), f) for f, o in points if log_ops(o) < ref)
    area, best = 0.0, 0.0
    for i, (x, f) in enumerate(pts):
        best = max(best, f)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref
        area += (nxt - x) * best
    return area
