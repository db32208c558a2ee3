"""Boxes: the geometry rule lists are built from (internal to RuleListStudent).

A box maps a column (a feature, or an oblique projection) to an interval ``(lower, upper]``;
``None`` is an open end and a missing column is unbounded. Each tree leaf is a box; boxes of
one tree are disjoint, which is what makes merging and order-aware simplification exact.
"""

from __future__ import annotations

import numpy as np

from hybrid.students.tree import TreeStudent, f32_split_bound


def leaf_boxes(tree: TreeStudent) -> list[tuple[dict[int, tuple[float | None, float | None]], int]]:
    """Each leaf of the tree as (column -> (lower, upper) bound, action), its path folded per column."""
    out = []
    stack: list[tuple[int, dict]] = [(0, {})]
    while stack:
        node, box = stack.pop()
        col = int(tree.feature_[node])
        if col < 0:
            out.append((box, int(np.argmax(tree.value_[node]))))
            continue
        bound = f32_split_bound(tree.threshold_[node])
        lo, hi = box.get(col, (None, None))
        stack.append((int(tree.right_[node]), {**box, col: (bound if lo is None else max(lo, bound), hi)}))
        stack.append((int(tree.left_[node]), {**box, col: (lo, bound if hi is None else min(hi, bound))}))
    return out


def merge_boxes(boxes: list) -> list:
    """Merge same-action boxes that agree on every other column and touch along one (exact:
    leaves are disjoint, so their union decides every state as they did). Repeats until stable."""
    while True:
        before = len(boxes)
        for col in sorted({c for box, _ in boxes for c in box}):
            groups: dict[tuple, list] = {}
            for box, action in boxes:
                rest = tuple(sorted(((k, v) for k, v in box.items() if k != col), key=lambda kv: kv[0]))
                groups.setdefault((action, rest), []).append(box.get(col, (None, None)))
            boxes = []
            for (action, rest), spans in groups.items():
                for span in _chain(spans):
                    boxes.append(({**dict(rest), col: span} if span != (None, None) else dict(rest), action))
        if len(boxes) == before:
            return boxes


def drop_covered_bounds(boxes: list[dict], leaves: list[dict]) -> list[dict]:
    """Drop each bound of a rule whose outside is caught by earlier rules ("merged where order
    allows"). Exact: the states a dropped bound let in all lie in tree leaves owned by earlier
    rules, so every state is still decided by the same rule as before."""
    owner = [next((j for j, box in enumerate(boxes) if _inside(leaf, box)), len(boxes)) for leaf in leaves]
    out = []
    for j, box in enumerate(boxes):
        for c in sorted(box):
            for side in (0, 1):  # lower bound, then upper bound
                span = box.get(c, (None, None))
                if span[side] is None:
                    continue
                outside = {**box, c: (None, span[0]) if side == 0 else (span[1], None)}
                if all(owner[i] < j for i, leaf in enumerate(leaves) if _overlap(leaf, outside)):
                    rest = (None, span[1]) if side == 0 else (span[0], None)
                    box = {k: v for k, v in box.items() if k != c} | ({c: rest} if rest != (None, None) else {})
        out.append(box)
    return out


def _inside(inner: dict, outer: dict) -> bool:
    """Is box ``inner`` within box ``outer`` (each: column -> (lower, upper], None = unbounded)?"""
    for c, (lo, hi) in outer.items():
        i_lo, i_hi = inner.get(c, (None, None))
        if (lo is not None and (i_lo is None or i_lo < lo)) or (hi is not None and (i_hi is None or i_hi > hi)):
            return False
    return True


def _overlap(a: dict, b: dict) -> bool:
    """Do two boxes share any point (conservatively: as real intervals)?"""
    for c in a.keys() & b.keys():
        lows = [v for v in (a[c][0], b[c][0]) if v is not None]
        highs = [v for v in (a[c][1], b[c][1]) if v is not None]
        if lows and highs and max(lows) >= min(highs):
            return False
    return True


def _chain(spans: list[tuple[float | None, float | None]]) -> list[tuple[float | None, float | None]]:
    """Join disjoint intervals of one column where one ends exactly where the next begins."""
    spans = sorted(spans, key=lambda s: -np.inf if s[0] is None else s[0])
    out = [spans[0]]
    for lo, hi in spans[1:]:
        if out[-1][1] is not None and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out
