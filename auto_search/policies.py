"""Selection policies: which point of the accuracy/cost tradeoff to ship, stated in words.

A policy takes the candidates that may be chosen (whole rungs only) and returns one with a
sentence saying why. Ties are broken by (operations, parameters, -fidelity, id), so the choice
is deterministic. Policies can be written as strings (CLI, config): ``knee``,
``knee:0.05``, ``min-cost:0.95``, ``within-best:0.01``, ``max-fidelity:200``,
``min-retention:0.99`` (closed loop: needs an environment and the teacher), ``cascade:0.99``
(:mod:`auto_search.cascade`: most coverage at ≥ 99% agreement, deferring the rest).

Each policy also says whether a student *holds its declared bound* (``bound_holds``): a model
changed after the choice (DAgger rounds) ships only if it still does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from auto_search.cascade import Cascade
from auto_search.errors import SearchConfigError
from auto_search.evaluate import describe
from auto_search.pareto import log_ops, pareto_front

SCREEN_EPISODES = 20  # paired episodes before the selection's screen may pass a student (auto_search.closed_loop)


class Policy(Protocol):
    """What every selection policy is: a spec string, a declared bound a changed model must
    still hold (``bound_holds``), and a choice with its words. Policies that choose on held-out
    predictions (``needs_held_out``, e.g. :class:`auto_search.cascade.Cascade`) choose through
    ``choose(…)`` instead; those that need the environment say ``needs_closed_loop``."""

    @property
    def spec(self) -> str: ...

    def bound_holds(self, c: Any) -> bool: ...

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]: ...


def _order(c: Any) -> tuple:
    return (c.ops_per_decision, c.parameters, -c.fidelity, c.id)


@dataclass(frozen=True)
class Knee:
    """The front's knee as the point of diminishing returns: the cheapest Pareto student beyond
    which every costlier one gains less than ``gain_per_decade`` fidelity per 10× operations.

    A slope threshold, unlike a chord-distance knee, does not depend on how poor the cheapest
    students happen to be, and it can be said in one sentence.
    """

    gain_per_decade: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 < self.gain_per_decade <= 1.0:
            raise SearchConfigError(f"Knee(gain_per_decade=…) must lie in (0, 1]; got {self.gain_per_decade!r}.")

    @property
    def spec(self) -> str:
        return "knee" if self.gain_per_decade == 0.02 else f"knee:{self.gain_per_decade:g}"

    def bound_holds(self, c: Any) -> bool:
        """The knee declares no bound."""
        return True

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        front = pareto_front(pool)

        def slope(a: Any, b: Any) -> float:
            return (b.fidelity - a.fidelity) / max(log_ops(b.ops_per_decision) - log_ops(a.ops_per_decision), 1e-12)

        pick = next(c for i, c in enumerate(front) if all(slope(c, d) < self.gain_per_decade for d in front[i + 1 :]))
        return pick, (
            f"knee of the Pareto front (every costlier student gains < {100 * self.gain_per_decade:g} point(s) "
            f"of fidelity per 10× operations; {len(front)} points): {describe(pick)}"
        )


@dataclass(frozen=True)
class MinCost:
    """Cheapest student with ``fidelity ≥ fidelity_at_least``, or within ``within_best``
    (absolute, e.g. 0.01 = one point) of the best fidelity found; exactly one must be set."""

    fidelity_at_least: float | None = None
    within_best: float | None = None

    def __post_init__(self) -> None:
        if (self.fidelity_at_least is None) == (self.within_best is None):
            raise SearchConfigError("MinCost needs exactly one of fidelity_at_least=… or within_best=….")
        value = self.fidelity_at_least if self.within_best is None else self.within_best
        if value is None or not 0.0 <= value <= 1.0:
            raise SearchConfigError(f"MinCost threshold must lie in [0, 1] (a share, 0.95 = 95%); got {value!r}.")

    @property
    def spec(self) -> str:
        if self.within_best is not None:
            return f"within-best:{self.within_best:g}"
        return f"min-cost:{self.fidelity_at_least:g}"

    def bound_holds(self, c: Any) -> bool:
        """A fixed fidelity floor must hold; ``within-best`` is relative to a search, so it declares none."""
        return self.fidelity_at_least is None or bool(c.fidelity >= self.fidelity_at_least - 1e-12)

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        best = max(c.fidelity for c in pool)
        if self.within_best is not None:
            floor = best - self.within_best
            rule = f"smallest student within {100 * self.within_best:g} point(s) of the best fidelity ({100 * best:.1f}%)"
        else:
            floor = float(self.fidelity_at_least or 0.0)
            rule = f"smallest student with fidelity ≥ {100 * floor:g}%"
        ok = [c for c in pool if c.fidelity >= floor - 1e-12]
        if not ok:
            pick = min((c for c in pool if c.fidelity == best), key=_order)
            return pick, f"no student reached fidelity ≥ {100 * floor:g}% (best {100 * best:.1f}%); chose the most faithful: {describe(pick)}"
        pick = min(ok, key=_order)
        return pick, f"{rule}: {describe(pick)}"


@dataclass(frozen=True)
class MaxFidelity:
    """Most faithful student with at most ``ops_at_most`` operations per decision."""

    ops_at_most: float

    def __post_init__(self) -> None:
        if not self.ops_at_most >= 0:
            raise SearchConfigError(f"MaxFidelity(ops_at_most=…) must be ≥ 0; got {self.ops_at_most!r}.")

    @property
    def spec(self) -> str:
        return f"max-fidelity:{self.ops_at_most:g}"

    def bound_holds(self, c: Any) -> bool:
        return bool(c.ops_per_decision <= self.ops_at_most)

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        ok = [c for c in pool if c.ops_per_decision <= self.ops_at_most]
        if not ok:
            pick = min(pool, key=_order)
            return pick, f"no student fits {self.ops_at_most:g} ops per decision; chose the cheapest: {describe(pick)}"
        pick = min(ok, key=lambda c: (-c.fidelity, *_order(c)))
        return pick, f"most faithful student with ≤ {self.ops_at_most:g} ops per decision: {describe(pick)}"


@dataclass(frozen=True)
class MinRetention:
    """Cheapest Pareto student whose retention of the teacher's return is at least
    ``retention_at_least`` *with confidence*: the lower bound of its anytime-valid interval
    (paired, seeded episodes; see :mod:`auto_search.closed_loop`) must clear the bar, so a student
    that was lucky on a few episodes is not chosen. Needs ``env`` and ``teacher``.

    The selection episodes rarely suffice for that bound, so when no student has it the cheapest
    whose *screen* clears the bar is chosen for confirmation — the claim is then the
    confirmation's (``auto_search.shipping``). When no screen clears either, the student
    estimated best (highest screen) is chosen and the words say so — never the luckiest mean.
    """

    retention_at_least: float = 0.99
    min_episodes: int = 0  # the search sets it: episodes enough to have seen a failure of the config's failure_rate
    needs_closed_loop = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.retention_at_least <= 1.5:
            raise SearchConfigError(f"MinRetention(retention_at_least=…) is a share of the teacher's return (0.99 = 99%); got {self.retention_at_least!r}.")

    @property
    def spec(self) -> str:
        return f"min-retention:{self.retention_at_least:g}"

    @property
    def bar(self) -> float:
        return self.retention_at_least

    def bound_holds(self, c: Any) -> bool:
        """The lower bound clears the bar, on enough episodes to have seen a rare failure."""
        return c.retention_low is not None and c.retention_low >= self.retention_at_least - 1e-12 and (c.loop_episodes or 0) >= self.min_episodes

    def screen_passes(self, c: Any) -> bool:
        """The normal approximation's lower bound clears the bar on ``SCREEN_EPISODES``: worth
        confirming on fresh episodes, not yet a claim."""
        screen = getattr(c, "retention_screen", None)
        return screen is not None and screen >= self.retention_at_least - 1e-12 and (c.loop_episodes or 0) >= SCREEN_EPISODES

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        scored = [c for c in pool if c.retention_low is not None]
        if not scored:
            raise SearchConfigError("min-retention needs closed-loop scores: pass env=… and teacher=… to AutoDistill.")
        bar = f"{100 * self.retention_at_least:g}%"
        ok = [c for c in scored if self.bound_holds(c)]
        if ok:
            pick = min(ok, key=_order)
            return (
                pick,
                f"smallest student whose lower confidence bound on retention clears {bar} of the teacher's return ({_interval(pick)}): {describe(pick)}",
            )
        screened = [c for c in scored if self.screen_passes(c)]
        if screened:
            pick = min(screened, key=_order)
            return pick, (
                f"smallest student whose estimate clears {bar} of the teacher's return ({_screen(pick)}); "
                f"its confirmation on fresh episodes decides the claim: {describe(pick)}"
            )
        pick = min(scored, key=lambda c: (-_rank(c), *_order(c)))
        return pick, f"no Pareto student's estimate reached {bar} of the teacher's return; chose the one estimated best, {_screen(pick)}: {describe(pick)}"


def _interval(c: Any) -> str:
    return f"{100 * c.retention:.1f}% [{100 * c.retention_low:.1f}, {100 * c.retention_high:.1f}] over {c.loop_episodes} episodes"


def _rank(c: Any) -> float:
    """How good a student looks when none has shown the bar: its screen (the normal
    approximation's lower bound), else its anytime-valid lower bound."""
    screen = getattr(c, "retention_screen", None)
    return c.retention_low if screen is None else screen


def _screen(c: Any) -> str:
    how = "by the normal approximation" if getattr(c, "retention_screen", None) is not None else "by its anytime-valid lower bound"
    return f"{100 * c.retention:.1f}%, at least {100 * _rank(c):.1f}% {how} over {c.loop_episodes} episodes (a screen, not a claim)"


@dataclass(frozen=True)
class CallablePolicy:
    """A user function ``pool -> candidate`` (or ``(candidate, words)``); not hashable by content,
    so the report marks the choice as made by custom code."""

    fn: Callable[[Sequence[Any]], Any]

    @property
    def spec(self) -> str:
        return f"callable:{getattr(self.fn, '__qualname__', type(self.fn).__name__)}"

    def bound_holds(self, c: Any) -> bool:
        """Custom code declares no bound we can check."""
        return True

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        out = self.fn(list(pool))
        pick, words = out if isinstance(out, tuple) else (out, None)
        if not any(pick is c for c in pool):
            raise SearchConfigError(f"custom policy {self.spec} returned {pick!r}, which is not one of the candidates it was given.")
        return pick, f"chosen by custom policy {self.spec}: {words or describe(pick)}"


def default_policy(closed_loop: bool) -> str:
    """What ``"auto"`` means: choose by return when students can be scored in the environment."""
    return "min-retention:0.99" if closed_loop else "knee"


def parse_policy(policy: str | Policy | Callable) -> Policy:
    """Turn a policy object, callable or string spec into a policy; unknown specs raise."""
    if isinstance(policy, (Knee, MinCost, MaxFidelity, MinRetention, CallablePolicy, Cascade)):
        return policy
    if hasattr(policy, "needs_held_out"):  # a policy of its own choosing on held-out predictions, as Cascade does
        return cast("Policy", policy)
    if callable(policy):
        return CallablePolicy(policy)
    if not isinstance(policy, str):
        raise SearchConfigError(f"policy must be a string, a policy object or a callable; got {type(policy).__name__}.")
    name, _, arg = policy.strip().partition(":")
    makers: dict[str, Callable[[float], Policy]] = {
        "min-cost": lambda v: MinCost(fidelity_at_least=v),
        "within-best": lambda v: MinCost(within_best=v),
        "max-fidelity": MaxFidelity,
        "min-retention": MinRetention,
        "cascade": Cascade,
    }
    makers["knee"] = Knee
    if name == "knee" and not arg:
        return Knee()
    if name in makers:
        try:
            number = float(arg)
        except ValueError:
            raise SearchConfigError(f"policy {policy!r} needs a number after the colon, e.g. {name}:0.95.") from None
        top = 1.5 if name == "min-retention" else 1.0  # retention may be asked above the teacher's, up to 150%
        if name in ("min-cost", "min-retention", "cascade") and top < number <= 100.0:  # a percentage where a share goes
            raise SearchConfigError(f"policy {policy!r} takes a share in (0, 1], not a percentage: write {name}:{number / 100:g}.")
        return makers[name](number)
    raise SearchConfigError(
        f"unknown policy {policy!r}; use knee, knee:0.05, min-cost:0.95, within-best:0.01, max-fidelity:200, min-retention:0.99 or cascade:0.99 (or pass a callable)."
    )
