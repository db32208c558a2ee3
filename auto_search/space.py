"""The search space per student family and the deterministic plan of rungs over it.

Each family lists its configurations cheapest first. Trees and rule lists are cheap: every
configuration is fitted once on all training states. MLPs and hybrids are expensive: they go
through successive halving on data size (Jamieson & Talwalkar 2016) — every configuration on
``n / eta^(L-1)`` states, the best ``1/eta`` of them on ``eta``× more, up to all states.

The plan is a list of rungs. Level 0 (every configuration once) is cut into rungs of at most
``RUNG_SIZE`` candidates, families interleaved in cost order so the first rung already spans
the front; each further level is one rung whose members depend only on finished scores; then
rungs of the remaining expensive configurations on all states, best level-0 Pareto rank first,
use whatever budget is left. The plan never depends on timing or on the number of workers: a
budget can only cut whole rungs.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from auto_search.errors import SearchConfigError
from auto_search.pareto import pareto_front

RUNG_SIZE = 12
EXPENSIVE = frozenset({"mlp", "hybrid"})

# family -> (module, class); imported lazily so a search over trees never imports torch
_CLASSES = {
    "tree": ("hybrid.students.tree", "TreeStudent"),
    "rules": ("hybrid.students.rules", "RuleListStudent"),
    "mlp": ("hybrid.students.mlp", "MLPStudent"),
    "hybrid": ("hybrid.students.hybrid_student", "HybridStudent"),
    "keywords": ("hybrid.students.keywords", "KeywordRulesStudent"),
    "linear": ("hybrid.students.linear", "LinearStudent"),
}

_TEMPERING = ((2.0, 0.7), (1.0, 0.3), (4.0, 0.9))  # (temperature, alpha) pairs worth trying
_HIDDEN = ((), (2,), (4,), (8,), (16,), (32,), (16, 16), (64,), (32, 32))


def check_family(family: str) -> None:
    """Refuse a family whose module is missing, without importing it (scikit-learn and torch
    take seconds to import; workers import them anyway)."""
    module, name = _CLASSES[family]
    if importlib.util.find_spec(module) is None:
        raise SearchConfigError(f"student family {family!r} is not available (no module {module}); drop it from families.")


def student_class(family: str) -> type:
    """The student class of a family; a clear error if its module is not installed."""
    module, name = _CLASSES[family]
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise SearchConfigError(f"student family {family!r} is not available ({module}.{name}: {e}); drop it from families.") from None


def family_space(family: str, *, epochs: int) -> list[dict[str, Any]]:
    """Hyperparameters to try for one family, cheapest (fewest operations) first."""
    if family == "tree":
        by_depth = [{"max_depth": d, "min_samples_leaf": 1} for d in (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)]
        by_leaves = [{"max_depth": None, "max_leaf_nodes": n, "min_samples_leaf": 5} for n in (12, 24, 48, 96)]
        return by_depth + by_leaves
    if family == "rules":
        # axis-aligned lists first, then oblique ones (a condition may weigh up to three
        # features): on LunarLander only the latter keep the teacher's return within 32 rules
        return [*({"max_depth": d, "max_rules": r} for d, r in ((2, None), (3, None), (4, None), (5, 16))),
                {"max_depth": None, "max_leaf_nodes": 40, "max_rules": 32},
                *({"max_depth": d, "oblique": True} for d in (2, 3, 4)),
                {"max_depth": None, "max_leaf_nodes": 40, "max_rules": 32, "oblique": True, "simplify": True}]
    if family == "mlp":
        # every architecture once before the alternative temperatures: a wide net gets fitted early
        return [
            {"hidden_sizes": list(h), "temperature": t, "alpha": a, "epochs": epochs}
            for t, a in _TEMPERING
            for h in _HIDDEN
        ]
    if family == "hybrid":
        # oblique rule trees reach ≥ 60% coverage at τ 0.7–0.8 where axis-aligned ones stay ≤ 20%
        rule_settings = ((3, False, 0.97), (6, False, 0.9), (6, True, 0.9), (6, True, 0.8), (8, True, 0.7))
        return [
            {"tau": tau, "rule_depth": depth, "oblique": oblique, "hidden_sizes": list(h), "epochs": epochs}
            for h in ((4,), (8,), (32,))
            for depth, oblique, tau in rule_settings
        ]
    if family == "keywords":  # decision lists of one or two keywords (0/1 features of records)
        return [{"max_rules": r, "max_terms": t, "min_precision": p} for r in (8, 16, 32, 64, 128) for t, p in ((1, 0.6), (2, 0.6), (2, 0.9))]
    if family == "linear":  # softmax regression by L-BFGS on all training states (n-gram features)
        return [{"C": c} for c in (0.1, 1.0, 10.0)]
    raise SearchConfigError(f"unknown student family {family!r}.")


@dataclass(frozen=True)
class Spec:
    """One planned fit: a family, its hyperparameters and how many training states it sees."""

    id: int
    rung: int
    level: int
    family: str
    params: dict[str, Any] = field(hash=False)
    n_train: int


@dataclass(frozen=True)
class Plan:
    """Level sizes for the expensive families and the fixed level-0 rungs."""

    level_sizes: tuple[int, ...]
    first_rungs: tuple[tuple[Spec, ...], ...]
    eta: int

    @property
    def n_levels(self) -> int:
        return len(self.level_sizes)



def level_sizes(n_train: int, *, eta: int, min_states: int) -> tuple[int, ...]:
    """Training-set sizes of the halving levels, smallest first, ending at ``n_train``."""
    levels = 1 + max(0, int(math.floor(math.log(max(n_train, 1) / min_states, eta) + 1e-9)))
    return tuple(int(math.ceil(n_train / eta ** (levels - 1 - k))) for k in range(levels))


def make_plan(families: Sequence[str], n_train: int, *, eta: int, min_states: int, epochs: int, seed: int) -> Plan:
    """Level 0 of every family, interleaved in cost order and cut into rungs."""
    sizes = level_sizes(n_train, eta=eta, min_states=min_states)
    # a tree and an MLP lead, so the first two workers start a front spanning both ends at once
    lead = sorted(families, key=lambda f: ("tree", "mlp", "linear", "keywords", "rules", "hybrid").index(f))
    per_family = [[(f, {**p, "random_state": seed}) for p in family_space(f, epochs=epochs)] for f in lead]
    order = [x for group in zip_longest(*per_family) for x in group if x is not None]
    rungs = []
    for r, start in enumerate(range(0, len(order), RUNG_SIZE)):
        chunk = order[start : start + RUNG_SIZE]
        rungs.append(tuple(
            Spec(start + i, r, 0, f, p, sizes[0] if f in EXPENSIVE else n_train) for i, (f, p) in enumerate(chunk)
        ))
    return Plan(sizes, tuple(rungs), eta)


def pareto_ranks(candidates: Sequence[Any]) -> dict[int, int]:
    """Non-dominated sorting on (fidelity, operations): 0 for the front, 1 for the front of the
    rest, …; keyed by candidate id."""
    ranks, rest, r = {}, list(candidates), 0
    while rest:
        layer = {c.id for c in pareto_front(rest)}
        ranks.update(dict.fromkeys(layer, r))
        rest, r = [c for c in rest if c.id not in layer], r + 1
    return ranks


def promote(plan: Plan, level: int, finished: Sequence[Any], *, first_id: int, rung: int) -> tuple[Spec, ...]:
    """The next halving level: per expensive family, the best ``1/eta`` of the previous level by
    Pareto rank (then fidelity, fewer operations, plan order), refitted on more states; ranking
    by fidelity alone would drop the cheap students the front needs."""
    out: list[Spec] = []
    for family in sorted({c.family for c in finished if c.family in EXPENSIVE}):
        prev = [c for c in finished if c.family == family and c.level == level - 1 and c.fidelity is not None]
        keep = max(1, math.ceil(len(prev) / plan.eta)) if prev else 0
        rank = pareto_ranks(prev)
        best = sorted(prev, key=lambda c: (rank[c.id], -c.fidelity, c.ops_per_decision, c.id))[:keep]
        for c in sorted(best, key=lambda c: c.id):
            out.append(Spec(first_id + len(out), rung, level, family, dict(c.params), plan.level_sizes[level]))
    return tuple(out)


def _key(params: dict[str, Any]) -> str:
    return repr(sorted(params.items()))


def full_data_rung(plan: Plan, level: int, finished: Sequence[Any], *, first_id: int, rung: int) -> tuple[Spec, ...]:
    """After the halving levels, the budget left fits the remaining expensive configurations on
    all states, at most ``RUNG_SIZE`` a rung: best level-0 Pareto rank first (the rest of the
    level-0 front, then the next layer, …), cheaper first within a rank. Empty when all are done."""
    top = plan.n_levels - 1
    todo = []
    for family in sorted({c.family for c in finished if c.family in EXPENSIVE}):
        done = {_key(c.params) for c in finished if c.family == family and c.level == top}
        level0 = [c for c in finished if c.family == family and c.level == 0 and c.fidelity is not None]
        rank = pareto_ranks(level0)
        todo += [(rank[c.id], c.ops_per_decision, c.id, c) for c in level0 if _key(c.params) not in done]
    todo.sort(key=lambda t: t[:3])
    return tuple(Spec(first_id + i, rung, top, t[3].family, dict(t[3].params), plan.level_sizes[top]) for i, t in enumerate(todo[:RUNG_SIZE]))


def unstarted_rungs(plan: Plan, finished: Sequence[Any], levels_started: int) -> int:
    """Rungs a stopped search never started: halving levels left, and full-data rungs for the
    expensive configurations not yet fitted on all states (an upper bound: promotions fit some)."""
    expensive = [s for r in plan.first_rungs for s in r if s.family in EXPENSIVE]
    if plan.n_levels == 1 or not expensive:
        return 0
    top = {(c.family, _key(c.params)) for c in finished if c.level == plan.n_levels - 1}
    left = sum((s.family, _key(s.params)) not in top for s in expensive)
    return (plan.n_levels - 1 - levels_started) + math.ceil(left / RUNG_SIZE)
