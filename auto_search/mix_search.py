"""Search the share of each data source as a hyperparameter, under the search's own rules.

``AutoDistill.fit(pool)`` with a ``hybrid.DataPool`` lands here. Every mix in
``config.data_mixes`` (default: the pool's grid in steps of 0.5) draws a dataset of the *same*
size from the pool (the largest every mix can supply without repeats), seeded by the search
seed, and gets an equal slice of the budget for an ordinary search. The student each mix ships
is then scored on the same paired *selection* episodes (seed stream ``config.seed``; the
confirmation stream stays unused for choosing) and the mix with the highest retention wins —
ties go to the earlier mix in the list, so pure teacher rollouts win a tie when listed first.
Same pool, config and seed give the same mixes, datasets and choice. The winning mix's result
ships, with ``result.data_mix`` stating the mix that shipped and every mix's figures.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from auto_search.closed_loop import PairedEpisodes
from auto_search.errors import SearchConfigError
from hybrid.loop.data_mix import check_shares, parse_shares, share_grid
from hybrid.errors import DataError

if TYPE_CHECKING:
    from auto_search.result import SearchResult
    from auto_search.search import AutoDistill
    from hybrid.loop.data_mix import DataPool

MIX_SCORING_SHARE = 0.15  # of the budget, kept for scoring every mix's shipped student


def mix_text(shares: dict[str, float]) -> str:
    """``{"dagger": 0.5, "rollouts": 0.5}`` → ``"dagger=0.5,rollouts=0.5"`` (the config form)."""
    return ",".join(f"{k}={v:g}" for k, v in sorted(shares.items()))


def planned_mixes(config_mixes: tuple[str, ...], pool: DataPool) -> list[dict[str, float]]:
    """The mixes to search, each checked against the pool's sources before any work."""
    try:
        mixes = [check_shares(parse_shares(m), pool.names) for m in config_mixes] if config_mixes else share_grid(pool.names, 0.5)
    except DataError as e:
        raise SearchConfigError(f"data_mixes: {e}.") from None
    if len({mix_text(m) for m in mixes}) != len(mixes):
        raise SearchConfigError(f"data_mixes lists a mix twice: {[mix_text(m) for m in mixes]}.")
    return mixes


def fit_pool(search: AutoDistill, pool: DataPool) -> SearchResult:
    """Run one search per mix on equal-size datasets; ship the mix whose student returns most."""
    from auto_search.search import AutoDistill

    t0 = time.monotonic()
    config = search.config()
    if not search.closed_loop:
        raise SearchConfigError(
            "choosing a data mix compares the students of each mix by return in the environment; pass env=… and teacher=… to AutoDistill (--env)."
        )
    mixes = planned_mixes(config.data_mixes, pool)
    n_states = min(pool.max_states(m) for m in mixes)
    per_mix = config.budget_s * (1 - MIX_SCORING_SHARE) / len(mixes)
    policy = None if isinstance(search.policy, str) else search.policy
    results = []
    for shares in mixes:
        sub_config = replace(config, budget_s=per_mix, data_mixes=(mix_text(shares),))
        sub = AutoDistill.from_config(sub_config, env=search.env, teacher=search.teacher, policy=policy)
        results.append(sub.fit(pool.mix(shares, n_states, seed=config.seed)))
    rows: list[dict[str, Any]] = []
    n = config.closed_loop_max_episodes
    with PairedEpisodes(search.env, _teacher(search), seed=config.seed, first=n, cap=n, confidence=config.confidence) as episodes:
        for shares, result in zip(mixes, results):
            if result.student is None:
                rows.append({"mix": shares, "retention": None})
                continue
            score = episodes.score(result.student)
            rows.append(
                {
                    "mix": shares,
                    "retention": score.retention,
                    "retention_low": score.retention_low,
                    "retention_high": score.retention_high,
                    "return_mean": score.return_mean,
                    "episodes": score.episodes,
                    "family": result.shipped.family if result.shipped else None,
                    "ops_per_decision": result.shipped.ops_per_decision if result.shipped else None,
                    "content_hash": result.student.content_hash,
                }
            )
    scored = [i for i, r in enumerate(rows) if r["retention"] is not None]
    if not scored:
        raise SearchConfigError(f"no mix finished a student within {config.budget_s:g} s; raise the budget (each of {len(mixes)} mixes got {per_mix:.1f} s).")
    best = max(scored, key=lambda i: (rows[i]["retention"], -i))
    win = rows[best]
    words = (
        f"shipped mix {mix_text(win['mix'])} ({n_states} states): retention {100 * win['retention']:.1f}% on {win['episodes']} selection episodes, "
        f"the highest of {len(scored)} mixes searched"
    )
    chosen = results[best]
    chosen.data_mix = {
        "shipped": win["mix"],
        "n_states": n_states,
        "pool": pool.content_hash,
        "pool_sources": {k: len(v) for k, v in pool.sources.items()},
        "searched": rows,
        "budget_per_mix_s": per_mix,
        "total_s": time.monotonic() - t0,
        "words": words,
    }
    chosen.mix_results = results
    return chosen


def _teacher(search: AutoDistill) -> Any:
    from hybrid.teachers.adapters import as_teacher

    return as_teacher(search.teacher)
