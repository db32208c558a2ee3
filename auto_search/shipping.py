"""From the chosen candidate to the student that ships, with figures measured on that student.

The policy chooses a candidate; with an environment the chosen student then gets DAgger rounds
on every training row plus the states it visits — never the held-out rows it is scored on. A
candidate chosen from an early halving rung was fitted on a share of the training rows only, so
its rounds also refit it on all of them.
A round's student replaces the chosen one only if it still holds the policy's declared bound
(cost, fidelity or retention, see ``Policy.bound_holds``) and, for a retention policy, only as
the policy itself would choose among them (cheapest whose lower bound clears the bar). The
student that ships is then scored afresh: fidelity and divergence on the held-out split, its own
cost, and its retention on confirmation episodes that no choice has seen. The closed loop's
figures form the ``closed_loop`` section of the report, registered here.
"""

from __future__ import annotations

import html
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from auto_search.closed_loop import CONFIRMATION_SEED_OFFSET, LoopScore, PairedEpisodes
from auto_search.config import SearchConfig
from auto_search.evaluate import Candidate, SplitData, numeric_part, score_student, shipped_form
from auto_search.policies import MinRetention, Policy
from auto_search.sections import ReportSection, family_colour, html_table, interval, markdown_table, ops_axis, png, register_section, share
from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import is_team_env
from hybrid.loop.rollouts import make_env
from hybrid.teachers.adapters import as_teacher

DAGGER_BETA = 0.5  # share of steps the teacher drives while the student's states are collected


@dataclass(frozen=True)
class Shipped:
    """The student that ships and its own figures (all measured on it).

    ``source`` says whether it is the chosen candidate, a DAgger round of it, or a costlier
    Pareto candidate shipped after the chosen one's confirmation missed; ``reason`` says why;
    ``loop`` holds its closed-loop figures on confirmation episodes (``None`` without an
    environment). ``claim`` is the declared retention bound as data (``None`` without one):
    whether the confirmation shows it (``bound_met``), on how many episodes, by which method,
    over which return range, which failure frequency those episodes exclude, and every earlier
    confirmation that missed (``withdrawn``).
    """

    content_hash: str
    family: str
    source: str
    reason: str
    fidelity: float
    kl: float
    parameters: int
    ops_per_decision: float
    bytes: int
    confusion: list[list[int]] | None  # None for a Box (no top-1 to confuse)
    loop: dict[str, Any] | None = None
    parent: str | None = None  # the chosen candidate's hash when a DAgger round ships
    claim: dict[str, Any] | None = None

    @property
    def bound_met(self) -> bool | None:
        """Whether the declared retention bound holds on the confirmation episodes (None: no bound declared)."""
        return None if self.claim is None else bool(self.claim["bound_met"])

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def held_out_figures(student: Any, data: SplitData) -> dict[str, Any]:
    """Fidelity, divergence, cost and content hash of ``student`` on the held-out split."""
    fidelity, kl = score_student(student, data)
    cost = student.cost()
    return {
        "fidelity": fidelity,
        "kl": kl,
        "parameters": int(cost.parameters),
        "ops_per_decision": float(cost.ops_per_decision),
        "bytes": int(cost.bytes),
        "content_hash": student.content_hash,
    }


def student_confusion(student: Any, data: SplitData) -> list[list[int]] | None:
    """The held-out confusion table of ``student`` (None for a Box, see ``ActionSpace.confusion``)."""
    return data.space.confusion(data.P_val, data.space.student_output(student, data.X_val))


def shipped_figures(student: Any, data: SplitData) -> tuple[Any, dict[str, Any]]:
    """The student to ship (joined to the split's featurizer on records) and its own figures:
    fidelity, divergence and confusion of its numeric part on the held-out rows (featurized
    held-out records, never trained on), cost and content hash of the shipped model as it runs."""
    numeric = numeric_part(student)
    shipped = shipped_form(student, data)
    cost = shipped.cost()
    figures = {
        **held_out_figures(numeric, data),
        "parameters": int(cost.parameters),
        "ops_per_decision": float(cost.ops_per_decision),
        "bytes": int(cost.bytes),
        "content_hash": shipped.content_hash,
        "confusion": student_confusion(numeric, data),
    }
    return shipped, figures


def dagger_rounds(
    chosen: Candidate,
    student: Any,
    *,
    data: SplitData,
    config: SearchConfig,
    env: Any,
    teacher: Any,
    episodes: PairedEpisodes,
    bar: float | None,
    deadline: float,
) -> tuple[list[Candidate], dict[int, Any], bool]:
    """DAgger rounds of the chosen student on all training rows (a candidate from an early
    halving rung saw only a share of them); each round scored on the held-out split and on the
    selection episodes. A round starts only when the last one's time (the first: the chosen
    candidate's fit, scaled to all rows) fits before ``deadline``, so rounds never eat into the
    confirmation's time. Returns the rounds as candidates, their students by round, and whether
    the budget cut the rounds short."""
    rounds: list[Candidate] = []
    models: dict[int, Any] = {}
    rows = dagger_rows(data)
    rounds_iter = dagger_stream(student, rows, data=data, config=config, env=env, teacher=teacher)
    next(rounds_iter)  # iterate 0: the chosen student as fitted
    round_s = (chosen.fit_time_s or 0.0) * rows / max(1, chosen.n_train)
    for i in range(1, config.dagger_iterations + 1):
        started = time.monotonic()
        if started + round_s >= deadline:
            rounds_iter.close()
            return rounds, models, True
        _, _beta, fitted, aggregate = next(rounds_iter)
        figures = held_out_figures(fitted, data)
        loop = episodes.score(fitted, bar)
        round_s = time.monotonic() - started
        rounds.append(replace(chosen, params={**chosen.params, "dagger_iteration": i}, n_train=len(aggregate), **figures, **loop.as_fields()))
        models[i] = fitted
    return rounds, models, False


def dagger_rows(data: SplitData) -> int:
    """How many training rows DAgger rounds start from: all of them."""
    return int(data.X.shape[0])


def dagger_stream(
    student: Any, n_train: int, *, data: SplitData, config: SearchConfig, env: Any, teacher: Any
) -> Generator[tuple[int, float, Any, DistillDataset], None, None]:
    """The DAgger iterates of ``student`` as the search runs them: iterate 0 is ``student`` as
    fitted; each round refits it on the first ``n_train`` training rows plus the states visited
    so far, on the config's seeds. ``reproduce`` replays the same stream to refit a shipped round."""
    rows = DistillDataset(
        data.X[:n_train],
        data.P[:n_train],
        data.action_names or [f"action_{i}" for i in range(data.P.shape[1])],
        data.feature_names,
        None if data.w is None else data.w[:n_train],
        **data.space.dataset_args(),
    )
    from hybrid.loop.dagger import dagger_iterates  # the DAgger stack imports scikit-learn: only when a search runs DAgger

    return dagger_iterates(
        env,
        teacher,
        student,
        rows,
        config.dagger_iterations,
        config.closed_loop_episodes,
        beta=DAGGER_BETA,
        seed=config.seed,
        weighting=config.weighting or None,
        start=student,
    )


def viper_weighted(data: SplitData, config: SearchConfig, teacher: Any) -> SplitData:
    """The split with its training rows weighted as ``config.weighting`` asks (VIPER: the
    teacher's Q-gap or its critic's drop, see ``hybrid.loop.rollouts.teacher_weights``); the
    held-out rows keep their own weights, so fidelity is scored as without weighting."""
    if not config.weighting:
        return data
    from hybrid.loop.rollouts import teacher_weights

    weights, _ = teacher_weights(teacher, data.X, data.P, config.weighting)
    return replace(data, w=weights)


def loop_teacher(teacher: Any, env: Any, data: SplitData) -> Any:
    """The teacher as the closed loop runs it: a team's teacher deciding for every agent, or the
    teacher adapted with the environment's action space (a plain callable needs a Box's bounds)."""
    from hybrid.loop.runners import team_search_teacher  # imports the DAgger stack (scikit-learn): only when asked

    if is_team_env(env):  # a team: its teacher decides for every agent, students for their own
        return team_search_teacher(env, teacher, data)
    env_obj, owned = make_env(env)
    try:
        return as_teacher(teacher, action_space=env_obj.action_space)
    finally:
        if owned:
            env_obj.close()


def pick_round(chosen: Candidate, rounds: list[Candidate], policy: Policy) -> tuple[Candidate, str]:
    """The round to ship (round 0 is the chosen candidate) and why."""
    if isinstance(policy, MinRetention):  # its bound is the bar itself: choose among all rounds as it chose
        holding, broken = rounds, []
        pick = policy([chosen, *rounds])[0]
    else:
        holding = [r for r in rounds if policy.bound_holds(r)]
        broken = [r.params["dagger_iteration"] for r in rounds if r not in holding]
        options = [chosen, *holding]  # the round most surely keeping the teacher's return; ties: cheaper, earlier
        pick = max(
            options, key=lambda c: (-np.inf if c.retention_low is None else c.retention_low, -(c.ops_per_decision or 0.0), -c.params.get("dagger_iteration", 0))
        )
    why = []
    if broken:
        why.append(f"DAgger round(s) {', '.join(map(str, broken))} broke the declared bound of {policy.spec} and were not shipped")
    if pick is chosen:
        why.append("the chosen candidate ships as fitted" + (" (no DAgger round did better by the same rule)" if rounds else ""))
    else:
        why.append(f"DAgger round {pick.params['dagger_iteration']} ships: it holds the bound and does better by the policy's rule")
    return pick, "; ".join(why)


def confirmation_alpha(alpha: float, attempt: int) -> float:
    """The error allowance of confirmation ``attempt`` (1, 2, …): ``α / 2^k`` — they sum to at
    most ``α`` over any number of attempts, and a retry needs only a little more evidence than the
    first (``log 2^k/α`` grows by ``log 2`` per attempt)."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1; got {attempt}")
    return alpha / 2**attempt


def confirm(
    student: Any, *, env: Any, teacher: Any, config: SearchConfig, bar: float | None, deadline: float, attempt: int = 1
) -> tuple[LoopScore, dict[str, Any]]:
    """A student's retention on fresh confirmation episodes (a seed stream never used to choose,
    one per ``attempt``). With a bar it runs until the anytime-valid bound decides it (clears it
    on at least ``config.min_episodes`` episodes, or falls below) or the cap or ``deadline`` comes;
    attempt ``k`` spends its share of the error allowance (``confirmation_alpha``), so every
    confirmation a search may try together keeps the declared confidence. Without a bar it runs
    to the cap: a figure to report. The report states how many episodes it got."""
    with PairedEpisodes(
        env,
        teacher,
        seed=config.seed + CONFIRMATION_SEED_OFFSET * attempt,
        first=config.closed_loop_episodes,
        cap=config.closed_loop_max_episodes,
        confidence=config.confidence if bar is None else 1.0 - confirmation_alpha(1.0 - config.confidence, attempt),
        deadline=deadline,
        return_range=config.value_range,
        min_episodes=config.min_episodes if bar is not None else 0,
    ) as fresh:
        loop = fresh.score(student, bar, to_cap=bar is None)
        summary = {**fresh.summary(), "cut_by_budget": fresh.cut, "episodes_run": fresh.episodes_run, "attempt": attempt}
    return loop, summary


@dataclass(frozen=True)
class LoopRun:
    """What the closed loop of one search works with: the environment, the teacher as the loop
    runs it, the selection episodes, the policy's bar and the time by which choosing must end."""

    env: Any
    teacher: Any
    episodes: PairedEpisodes
    policy: Policy
    bar: float | None
    choose_by: float
    end: float


def ship_closed_loop(
    chosen: Candidate, student: Any, loop: LoopRun, data: SplitData, config: SearchConfig, alternatives: Sequence[tuple[Candidate, Any]] = ()
) -> tuple[Candidate, Any, Shipped, dict[str, Any]]:
    """DAgger rounds of the chosen student, the round to ship, its confirmation, and — when a
    retention bound is declared and that confirmation does not show it — the gate: the claim is
    withdrawn and the other Pareto students (``alternatives``, cheapest first, those the
    selection episodes have not already ruled out) are confirmed on fresh episodes with the
    budget left; the first whose confirmation clears ships, else the one with the highest
    confirmed lower bound, marked as missing the bound. Returns the candidate shipped (the chosen
    one unless an alternative ships), its student, its figures and the ``closed_loop`` section."""
    rounds: list[Candidate] = []
    models: dict[int, Any] = {}
    dagger_cut = False
    episodes = loop.episodes
    try:
        if config.dagger_iterations > 0:
            rounds, models, dagger_cut = dagger_rounds(
                chosen, student, data=data, config=config, env=loop.env, teacher=loop.teacher, episodes=episodes, bar=loop.bar, deadline=loop.choose_by
            )
    finally:
        episodes.close()
    pick, reason = pick_round(chosen, rounds, loop.policy)
    iteration = pick.params.get("dagger_iteration", 0)
    shipped_student = models.get(iteration, student)
    confirmation, fresh = confirm(shipped_student, env=loop.env, teacher=loop.teacher, config=config, bar=loop.bar, deadline=loop.end)
    claim = None if loop.bar is None else confirmation.claim(loop.bar, config.min_episodes)
    source = "chosen candidate" if iteration == 0 else f"DAgger round {iteration} of the chosen candidate"
    parent = None if iteration == 0 else chosen.content_hash
    withdrawn: list[dict[str, Any]] = []
    if claim is not None and loop.bar is not None and not claim["bound_met"]:
        bar = loop.bar
        best = (_estimate(confirmation), chosen, shipped_student, confirmation, fresh, claim, source, parent)
        withdrawn.append({"candidate": chosen.id, "family": chosen.family, "source": source, **claim})
        for attempt, (cand, alt) in enumerate(_gate_order(alternatives, chosen, bar), start=2):
            if time.monotonic() >= loop.end:
                break
            score, summary = confirm(alt, env=loop.env, teacher=loop.teacher, config=config, bar=bar, deadline=loop.end, attempt=attempt)
            alt_claim = score.claim(bar, config.min_episodes)
            alt_source = f"Pareto candidate {cand.id}, confirmed after the chosen candidate's confirmation missed the bound"
            if alt_claim["bound_met"] or _estimate(score) > best[0]:
                best = (_estimate(score), cand, alt, score, summary, alt_claim, alt_source, None)
            if alt_claim["bound_met"]:
                break
            withdrawn.append({"candidate": cand.id, "family": cand.family, "source": alt_source, **alt_claim})
        _, shipped_cand, shipped_student, confirmation, fresh, claim, source, parent = best
        withdrawn = [w for w in withdrawn if w["candidate"] != shipped_cand.id or w["source"] != source]
        if shipped_cand is not chosen:
            chosen, iteration = shipped_cand, 0
        claim = {**claim, "withdrawn": withdrawn}
        reason += f"; {len(withdrawn)} confirmation(s) missed the bound and their claims were withdrawn"
    shipped = Shipped(
        source=source,
        reason=reason,
        family=chosen.family,
        confusion=student_confusion(shipped_student, data),
        loop={**confirmation.as_fields(), "seeds": "confirmation"},
        parent=parent,
        claim=claim,
        **held_out_figures(shipped_student, data),
    )
    section = {
        **episodes.summary(),
        "env": env_name(loop.env),
        "env_by_id": isinstance(loop.env, str),  # an environment object (wrappers, noise) cannot be re-made from its id alone
        "episodes_run": episodes.episodes_run,
        "cut_by_budget": episodes.cut or dagger_cut,  # the choice; the confirmation says its own cut in "confirmation"
        "bar": loop.bar,
        "confirmation": fresh,
        "dagger": None
        if not config.dagger_iterations
        else {
            "iterations": config.dagger_iterations,
            "training_rows": dagger_rows(data),  # every training row, whatever rung the chosen candidate came from
            "rounds_run": len(rounds),
            "cut_by_budget": dagger_cut,
            "shipped_round": iteration,
            "rounds": [r.to_dict() for r in rounds],
        },
    }
    return chosen, shipped_student, shipped, section


def _estimate(score: LoopScore) -> float:
    """How good a confirmed student looks when none shows the bar: the normal approximation's
    lower bound (a ranking, not a claim), else the anytime-valid one."""
    return score.retention_low if score.screen_low is None else score.screen_low


def _gate_order(alternatives: Sequence[tuple[Candidate, Any]], chosen: Candidate, bar: float | None) -> list[tuple[Candidate, Any]]:
    """The students the gate confirms after the chosen one: every other Pareto student whose
    selection bound did not already fall below the bar — those whose selection screen cleared it
    first (cheapest first), then the rest by how good they looked (highest screen first)."""
    keep = [(c, s) for c, s in alternatives if c.id != chosen.id and (bar is None or c.retention_high is None or c.retention_high >= bar)]

    def order(cs: tuple[Candidate, Any]) -> tuple:
        c = cs[0]
        screen = c.retention_screen if c.retention_screen is not None else (c.retention_low if c.retention_low is not None else float("-inf"))
        if bar is not None and screen >= bar:
            return (0, c.ops_per_decision or 0.0, c.id)
        return (1, -screen, c.ops_per_decision or 0.0, c.id)

    return sorted(keep, key=order)


def env_name(env: Any) -> str:
    """The environment's id as the report and the ledger name it."""
    if isinstance(env, str):
        return env
    if isinstance(getattr(env, "env_id", None), str):  # a hybrid.envs.adapter.TeamEnv
        return str(env.env_id)
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(getattr(env, "unwrapped", env)).__name__


# -- the closed_loop section of the report -----------------------------------------------------
def _loop_words(data: dict[str, Any]) -> str:
    """How the loop was scored, the baselines, and the DAgger outcome, in one paragraph."""
    loop = data["closed_loop"]
    conf = 100 * loop["confidence"]
    words = (
        f"Each Pareto student ran on the same seeded episodes as the teacher ({loop['env']}): {loop['episodes_first']} first, "
        f"doubling up to {loop['episodes_cap']} while its {conf:g}% interval contained the bar"
        + (f" of {100 * loop['bar']:g}%" if loop.get("bar") is not None else "")
        + f". Retention = 1 + mean(student − teacher) / (teacher − random), intervals from the paired differences; "
        f"teacher {loop['teacher_return']:.1f}, uniformly random {loop['random_return']:.1f} over {loop['baseline_episodes']} episodes. "
        f"{loop['episodes_run']} selection episodes and {loop['confirmation']['episodes_run']} confirmation episodes were run."
    )
    if loop.get("cut_by_budget"):
        words += (
            " The budget cut closed-loop scoring short (costlier Pareto students unscored, or intervals resting on fewer"
            " episodes): the choice may not repeat on another machine."
        )
    unscored = [c for c in data["candidates"] if c["id"] in data["pareto"] and c.get("retention") is None]
    if unscored and loop.get("bar") is not None and not loop.get("cut_by_budget"):
        words += f" {len(unscored)} costlier Pareto student(s) were not rolled out: a cheaper one had already cleared the bar."
    dag = loop.get("dagger")
    if dag:
        shipped = "kept the chosen student" if dag["shipped_round"] == 0 else f"round {dag['shipped_round']} replaced the chosen student"
        words += f" DAgger ({dag['rounds_run']} of {dag['iterations']} rounds, on all training rows and visited states, never held-out rows) {shipped}."
    shipped_loop = (data["shipped"] or {}).get("loop")
    if shipped_loop:
        words += f" On fresh confirmation episodes the shipped student keeps {interval(shipped_loop)}."
        if loop["confirmation"].get("cut_by_budget"):
            words += f" The budget stopped the confirmation before its {loop['confirmation']['episodes_cap']} episodes."
    return words


def _loop_table(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Pareto candidates and DAgger rounds in the environment: return, retention with its interval."""
    head = ["id", "family", "ops", "fidelity (held-out) %", "fidelity (own states) %", "return", "retention [interval] (episodes)"]
    chosen = data["chosen"]["id"] if data["chosen"] else None
    scored = [c for c in data["candidates"] if c.get("retention") is not None]
    rounds = ((data["closed_loop"] or {}).get("dagger") or {}).get("rounds", [])
    rows = []
    for c in [*scored, *rounds]:
        label = f"{c['id']}{'★' if c['id'] == chosen else ''}" + (f" DAgger {c['params']['dagger_iteration']}" if "dagger_iteration" in c["params"] else "")
        rows.append(
            [
                label,
                c["family"],
                f"{c['ops_per_decision']:.4g}",
                f"{100 * c['fidelity']:.2f}",
                share(c["visited_fidelity"]).rstrip("%"),
                f"{c['return_mean']:.1f}",
                interval(c),
            ]
        )
    return head, rows


def _loop_markdown(data: dict[str, Any]) -> list[str]:
    return ["## Closed loop", "", _loop_words(data), "", *markdown_table(*_loop_table(data)), ""]


def _loop_html(data: dict[str, Any]) -> str:
    return f"<h2>Closed loop</h2><p>{html.escape(_loop_words(data))}</p>" + html_table(*_loop_table(data))


def _loop_plots(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Retention against operations for every student scored in the loop, with its interval."""
    import matplotlib.pyplot as plt

    loop = data["closed_loop"]
    scored = [c for c in data["candidates"] if c.get("retention") is not None] + list((loop.get("dagger") or {}).get("rounds", []))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in scored:
        x, y = c["ops_per_decision"], c["retention"]
        low, high = max(c["retention_low"], y - 2), min(c["retention_high"], y + 2)  # an open interval of one episode stays on the plot
        # the running intersection may leave the latest mean just outside the bounds: draw no negative bar
        ax.errorbar([x], [y], yerr=[[max(0.0, y - low)], [max(0.0, high - y)]], fmt="o", ms=5, c=family_colour(c["family"]), capsize=3)
    chosen, shipped = data["chosen"], data["shipped"]
    if chosen and chosen.get("retention") is not None:
        ax.scatter([chosen["ops_per_decision"]], [chosen["retention"]], s=160, facecolors="none", edgecolors="r", lw=2, label="chosen (selection episodes)")
    if shipped and shipped.get("loop"):
        sl = shipped["loop"]
        ax.errorbar(
            [shipped["ops_per_decision"]],
            [sl["retention"]],
            yerr=[[max(0.0, sl["retention"] - sl["retention_low"])], [max(0.0, sl["retention_high"] - sl["retention"])]],
            fmt="s",
            ms=8,
            c="k",
            capsize=4,
            label="shipped (fresh episodes)",
        )
    if loop.get("bar") is not None:
        ax.axhline(loop["bar"], c="r", ls="--", lw=1, label=f"bar {100 * loop['bar']:g}%")
    ax.axhline(1.0, c="gold", lw=1, label="teacher")
    ops_axis(ax)
    ax.set(ylabel="retention of the teacher's return", title="Closed loop")
    ax.legend(fontsize=7, loc="lower right")
    return [("Retention in the loop with its interval (circled: chosen; square: shipped, on fresh episodes)", png(fig))]


register_section(ReportSection("closed_loop", 10, _loop_markdown, _loop_html, _loop_plots))
