"""The search space per student family and the deterministic plan of rungs over it.

Each family lists its configurations cheapest first. Trees and rule lists are cheap: every
configuration is fitted once on all training states. MLPs and hybrids are expensive: they go
through successive halving on data size (Jamieson & Talwalkar 2016) — every configuration on
``n / eta^(L-1)`` states, the best ``1/eta`` of them on ``eta``× more, up to all states.

The plan is a list of rungs. Level 0 (every configuration once) is cut into rungs of at most
``RUNG_SIZE`` candidates, families interleaved in cost order so the first rung already spans
the front; each further level is one rung whose members depend only on finished scores; then
one-fit rungs of the remaining expensive configurations on all states, those that survived more
levels first, use whatever budget is left (they are queued with the top level's rung, so no worker waits
at their boundaries). The plan never depends on timing or on the number of workers: a budget can
only cut whole rungs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from auto_search.errors import SearchConfigError
from auto_search.pareto import pareto_front
from hybrid.spaces import action_space_of, state_space_of

if TYPE_CHECKING:
    from hybrid.students import Student

RUNG_SIZE = 12


def _registry() -> dict[str, type[Student]]:
    import hybrid.students  # noqa: F401  (registers the built-in families)
    from hybrid.students import registered_families

    return registered_families()


def check_family(family: str) -> None:
    """Refuse a family that is not registered or declares nothing to search."""
    known = _registry()
    if family not in known:
        raise SearchConfigError(
            f"unknown student family {family!r}; registered: {sorted(known)} (a family registers with @hybrid.students.register when its module is imported)."
        )
    if not known[family].search_space(epochs=1):
        raise SearchConfigError(f"student family {family!r} declares no search space (its search_space() is empty); drop it from families.")


def student_class(family: str) -> type[Student]:
    """The student class of a registered family."""
    check_family(family)
    return _registry()[family]


def kind_families(dataset: Any) -> dict[str, type[Student]]:
    """The registered families that act in the dataset's kind of action space."""
    import hybrid.students  # noqa: F401  (registers the built-in families)
    from hybrid.students import registered_families

    return registered_families(action_kind=action_space_of(dataset).kind)


def default_families_for(dataset: Any) -> tuple[str, ...]:
    """The families a search of ``dataset`` tries when none are named, as the registry declares
    them, in their declared order: those of the dataset's kind of action that are searched by
    default, or every family of the kind where none is so marked; on states a featurizer turns
    into features per search (records), every other family of the kind too, by name (keyword
    lists and linear students read n-gram features); and any family that adds itself for the
    dataset (entity students, where the feature names list entities)."""
    ordered = sorted(kind_families(dataset).values(), key=lambda c: (c.search_order, c.family))
    chosen = [c.family for c in ordered if c.searched_by_default] or [c.family for c in ordered]
    chosen += [c.family for c in ordered if c.family not in chosen and c.adds_itself(dataset)]
    if state_space_of(dataset).featurized:
        chosen += sorted(c.family for c in ordered if c.family not in chosen)
    return tuple(chosen)


def families_for(dataset: Any, families: Sequence[str], defaults: Sequence[str]) -> tuple[str, ...]:
    """The families to search ``dataset`` with: the dataset's own defaults where ``families`` are
    the search's ``defaults``; refuses a family that acts in another kind of action space."""
    if tuple(families) == tuple(defaults):
        families = default_families_for(dataset)
    of_kind = kind_families(dataset)
    wrong = [f for f in families if f not in of_kind]
    if wrong:
        raise SearchConfigError(
            f"the dataset holds {action_space_of(dataset).kind} actions but famil{'y' if len(wrong) == 1 else 'ies'} {wrong} "
            f"predict{'s' if len(wrong) == 1 else ''} the other kind; pick from {list(default_families_for(dataset))}."
        )
    return tuple(families)


def is_expensive(family: str) -> bool:
    """Whether the family declares slow fits (searched by successive halving on data size)."""
    return bool(student_class(family).expensive)


def fit_imports(families: Sequence[str]) -> list[str]:
    """The heavy modules the families' fits import (``Student.fit_imports``), each once."""
    return sorted({m for f in families for m in student_class(f).fit_imports})


def family_space(family: str, *, epochs: int) -> list[dict[str, Any]]:
    """Hyperparameters to try for one family, cheapest (fewest operations) first, as it declares them."""
    return student_class(family).search_space(epochs=epochs)


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
    # families lead in their declared order (a tree and an MLP first, so the first two workers
    # start a front spanning both ends at once)
    lead = sorted(families, key=lambda f: (student_class(f).search_order, f))
    per_family = [[(f, {**p, "random_state": seed}) for p in family_space(f, epochs=epochs)] for f in lead]
    order = [x for group in zip_longest(*per_family) for x in group if x is not None]
    rungs = []
    for r, start in enumerate(range(0, len(order), RUNG_SIZE)):
        chunk = order[start : start + RUNG_SIZE]
        rungs.append(tuple(Spec(start + i, r, 0, f, p, sizes[0] if is_expensive(f) else n_train) for i, (f, p) in enumerate(chunk)))
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
    for family in sorted({c.family for c in finished if is_expensive(c.family)}):
        prev = [c for c in finished if c.family == family and c.level == level - 1 and c.fidelity is not None]
        keep = max(1, math.ceil(len(prev) / plan.eta)) if prev else 0
        rank = pareto_ranks(prev)
        best = sorted(prev, key=lambda c: (rank[c.id], -c.fidelity, c.ops_per_decision, c.id))[:keep]
        for c in sorted(best, key=lambda c: c.id):
            out.append(Spec(first_id + len(out), rung, level, family, dict(c.params), plan.level_sizes[level]))
    return tuple(out)


def config_key(params: dict[str, Any]) -> str:
    """One configuration's identity across levels (its hyperparameters, in a fixed order)."""
    return repr(sorted(params.items()))


def full_data_rungs(plan: Plan, finished: Sequence[Any], promoted: Sequence[Spec], *, first_id: int, rung: int) -> tuple[tuple[Spec, ...], ...]:
    """After the halving levels, the budget left fits the remaining expensive configurations on
    all states, skipping what ``promoted`` (the top level's promotion rung) fits. Those that
    survived more halving levels go first — their scores were measured on more states — then by
    Pareto rank among their family's fits at the deepest level each reached (the rest of its
    front, then the next layer, …), cheaper first within a rank. Each fit is its own rung: the
    whole stream is known once the top level is promoted, so workers never wait at a rung
    boundary, and a budget cut discards at most the fits still running. Empty when nothing is left."""
    top = plan.n_levels - 1
    todo = []
    for family in sorted({c.family for c in finished if is_expensive(c.family)}):
        placed = {config_key(c.params) for c in finished if c.family == family and c.level == top}
        placed |= {config_key(s.params) for s in promoted if s.family == family}
        for level in range(top - 1, -1, -1):  # deepest evidence first
            fits = [c for c in finished if c.family == family and c.level == level and c.fidelity is not None]
            rank = pareto_ranks(fits)
            for c in fits:
                if config_key(c.params) not in placed:
                    todo.append((-level, rank[c.id], c.ops_per_decision, c.id, c))
                    placed.add(config_key(c.params))
    todo.sort(key=lambda t: t[:4])
    return tuple((Spec(first_id + i, rung + i, top, t[4].family, dict(t[4].params), plan.level_sizes[top]),) for i, t in enumerate(todo))


def unstarted_rungs(plan: Plan, levels_started: int) -> int:
    """Rungs a search stopped before its top level never started: the halving levels left, and
    one full-data rung per expensive configuration (an upper bound: the top level's promotions
    fit some). Once the top level is promoted every rung is planned, so none is unstarted."""
    expensive = sum(is_expensive(s.family) for r in plan.first_rungs for s in r)
    if plan.n_levels == 1 or not expensive or levels_started == plan.n_levels - 1:
        return 0
    return (plan.n_levels - 1 - levels_started) + expensive
