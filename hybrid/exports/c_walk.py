"""Branch-free batch kernels for the families that decide by walking a tree: trees, rule lists, hybrids.

One state at a time, a tree's nested ``if``s are fast only while the branch predictor guesses
right; on a batch of unrelated states (thousands of agents in different situations) most guesses
fail and each costs more than the comparison itself. The batch kernel instead walks a block of
states down the tree together, one level at a time, choosing each child by indexing with the
comparison's result (``next[node][z > bound]``), so no branch depends on the data and the
block's walks overlap in the pipeline. A leaf points to itself, so every state takes the tree's
depth in steps. A tree's subtrees whose leaves all take one action become leaves.

Every family shaped like this becomes one *walk*: the columns it tests (a feature, or an
oblique sum ``w·x`` computed in double left to right as the students do), per node the column,
the double bound and the two children, and per leaf the output. A tree walks its own nodes
(bounds from ``f32_split_bound``, as its other exports); a rule list and a hybrid's enabled rules
walk their router (``hybrid.students._router``), which finds the first rule that holds exactly;
a hybrid's uncovered states then go to its MLP, one ``decide_mlp`` call each (a cascade leaves
them at -1 for its teacher). Decisions equal ``predict`` state for state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.students._router import build_router
from hybrid.students.hybrid import HybridStudent
from hybrid.students.rules import RuleListStudent
from hybrid.students.tree import TreeStudent, f32_split_bound

BLOCK = 64  # states walked together: enough to overlap their steps, small enough for the stack


@dataclass(frozen=True)
class Walk:
    """A tree over columns in flat arrays; ``column[i] < 0`` marks a leaf whose output is ``leaf[i]``."""

    columns: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]
    column: np.ndarray
    bound: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    fallback: str | None = None  # C function deciding the states whose leaf output is -1

    @property
    def depth(self) -> int:
        """Steps from the root to the deepest leaf."""
        depth, frontier = 0, [0]
        while any(self.column[i] >= 0 for i in frontier):
            frontier = [int(c) for i in frontier if self.column[i] >= 0 for c in (self.left[i], self.right[i])]
            depth += 1
        return depth


def walk_of(student: Any) -> Walk | None:
    """The walk of a tree, rule list or hybrid; None for a family that does not decide by a tree."""
    if isinstance(student, TreeStudent):
        uniform = uniform_actions(student)
        column = np.where(uniform >= 0, -1, student.feature_)
        bounds = np.array([f32_split_bound(t) if c >= 0 else 0.0 for t, c in zip(student.threshold_, column)])
        columns = tuple(((f,), (1.0,)) for f in range(int(student.n_features_in_)))
        return Walk(columns, column, bounds, student.left_, student.right_, uniform)
    if isinstance(student, RuleListStudent):
        router = build_router(student.rules_)
        actions = np.array([r.action for r in student.rules_] + [student.default_action_])
        return Walk(router.columns, router.column, router.threshold, router.left, router.right, actions[router.rule])
    if isinstance(student, HybridStudent):
        deciding = [rule for rule, on in zip(student.rules_.rules_, student.enabled_rules_) if on]
        router = build_router(deciding)
        actions = np.array([r.action for r in deciding] + [-1])
        fallback = "decide_mlp" if student.mlp_ is not None else None
        return Walk(router.columns, router.column, router.threshold, router.left, router.right, actions[router.rule], fallback)
    return None


def uniform_actions(tree: TreeStudent) -> np.ndarray:
    """Per node, the action every leaf below it takes, or -1 where they differ. A subtree of one
    action decides without its comparisons: the same decisions, fewer steps and smaller tables."""
    out = np.where(tree.feature_ < 0, tree.value_.argmax(axis=1), -1)
    for node in reversed(range(len(out))):  # scikit-learn numbers children after their parent
        if tree.feature_[node] >= 0 and out[tree.left_[node]] == out[tree.right_[node]]:
            out[node] = out[tree.left_[node]]
    return out


def walk_batch_function(walk: Walk, n_features: int, name: str = "decide") -> str:
    """C source of the tables and ``static inline long {name}_batch(const float *states, size_t n, int32_t *out)``."""
    n, d, ncol = len(walk.column), n_features, max(len(walk.columns), 1)
    leaf = walk.column < 0
    # a leaf tests column 0 against any bound and goes back to itself either way
    col = np.where(leaf, 0, walk.column)
    nxt = [(i, i) if leaf[i] else (int(walk.left[i]), int(walk.right[i])) for i in range(n)]
    p = f"{name}_walk"
    lines = [
        f"static const int {p}_column[{n}] = {{{', '.join(str(int(c)) for c in col)}}};",
        f"static const double {p}_bound[{n}] = {{{', '.join(repr(float(b)) if not leaf[i] else '0.0' for i, b in enumerate(walk.bound))}}};",
        f"static const int {p}_next[{n}][2] = {{{', '.join(f'{{{a}, {b}}}' for a, b in nxt)}}};",
        f"static const int32_t {p}_leaf[{n}] = {{{', '.join(str(int(v)) if leaf[i] else '0' for i, v in enumerate(walk.leaf))}}};",
        "",
        f"/* Batch entry: states [n][{d}] as float, row-major; one action index per state"
        f"{' (-1 where the teacher must decide)' if walk.leaf.min() < 0 and walk.fallback is None else ''}.",
        "   Returns -1, or the index of the first state holding NaN or infinity (outputs from its block on are",
        "   not written). No allocation: a block of states is walked together on the stack. */",
        f"static inline long {name}_batch(const float *states, size_t n, int32_t *out) {{",
        f"    double z[{BLOCK}][{ncol}];",
        f"    int node[{BLOCK}];",
        "    size_t start;",
        "    int i, level, m;",
        f"    for (start = 0; start < n; start += {BLOCK}) {{",
        f"        m = n - start < {BLOCK} ? (int)(n - start) : {BLOCK};",
        "        for (i = 0; i < m; ++i) {",
        f"            const float *x = states + (start + (size_t)i) * {d};",
        f"            float bad = 0.0f{''.join(f' + (x[{j}] - x[{j}])' for j in range(d))};",
        "            if (bad != 0.0f) return (long)(start + (size_t)i);  /* x - x is NaN exactly for NaN and infinity */",
        *[f"            z[i][{c}] = {_column_sum(features, weights)};" for c, (features, weights) in enumerate(walk.columns)],
        "            node[i] = 0;",
        "        }",
        f"        for (level = 0; level < {walk.depth}; ++level)",
        f"            for (i = 0; i < m; ++i) node[i] = {p}_next[node[i]][z[i][{p}_column[node[i]]] > {p}_bound[node[i]]];",
        f"        for (i = 0; i < m; ++i) out[start + (size_t)i] = {p}_leaf[node[i]];",
    ]
    if walk.fallback is not None:
        lines += [
            "        for (i = 0; i < m; ++i) if (out[start + (size_t)i] < 0) {",
            f"            const float *x = states + (start + (size_t)i) * {d};",
            f"            double s[{d}];",
            "            int j;",
            f"            for (j = 0; j < {d}; ++j) s[j] = (double)x[j];",
            f"            out[start + (size_t)i] = (int32_t){walk.fallback}(s);",
            "        }",
        ]
    return "\n".join([*lines, "    }", "    return -1;", "}", ""])


def _column_sum(features: tuple[int, ...], weights: tuple[float, ...]) -> str:
    """A column as C: the widened feature, or the oblique sum in the students' order (left to right, in double)."""
    if weights == (1.0,):
        return f"(double)x[{features[0]}]"
    return " + ".join(f"{w!r} * (double)x[{f}]" for f, w in zip(features, weights))
