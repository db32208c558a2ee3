"""The accuracy/cost Pareto front and its hypervolume.

Objectives: maximise fidelity, minimise operations per decision (the analytic, deterministic
cost; measured latency never enters). Operations are compared on a log scale because students
span four orders of magnitude (a stump to a wide MLP).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class Scored(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def fidelity(self) -> float | None: ...
    @property
    def ops_per_decision(self) -> float | None: ...


S = TypeVar("S", bound=Scored)


def log_ops(ops: float) -> float:
    """``log10(1 + ops)``: the cost axis of the front (0 for a constant student)."""
    return math.log10(1.0 + max(0.0, float(ops)))


def pareto_front(candidates: Iterable[S]) -> list[S]:
    """Non-dominated candidates, cheapest first; exact ties keep the lowest id (deterministic).
    Candidates without scores (failed fits) are left out."""
    scored = [(float(c.ops_per_decision), float(c.fidelity), c) for c in candidates if c.fidelity is not None and c.ops_per_decision is not None]
    scored.sort(key=lambda t: (t[0], -t[1], t[2].id))
    front: list[S] = []
    best = -math.inf
    for _, fidelity, c in scored:
        if fidelity > best:
            front.append(c)
            best = fidelity
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
