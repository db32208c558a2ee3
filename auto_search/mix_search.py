"""Search the share of each data source as a hyperparameter, under the search's own rules.

``AutoDistill.fit(pool)`` with a pool of data sources (``hybrid.DataPool``, or anything that
:class:`SourcePool` describes) lands here, handing over how to search one dataset. Every mix in
``config.data_mixes`` (default: the pool's grid in steps of 0.5) draws a dataset of the *same*
size from the pool (the largest every mix can supply without repeats), seeded by the search
seed, and gets an equal slice of the budget for an ordinary search. The student each mix ships
is then scored on the same paired *selection* episodes (seed stream ``config.seed``; the
confirmation stream stays unused for choosing) and the mix with the highest retention wins —
ties go to the earlier mix in the list, so pure teacher rollouts win a tie when listed first.
Same pool, config and seed give the same mixes, datasets and choice. The winning mix's result
ships, with its ``data_mix`` section stating the mix that shipped and every mix's figures (and
``mix_results``, every mix's own result).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from auto_search.closed_loop import PairedEpisodes
from auto_search.config import SearchConfig
from auto_search.errors import SearchConfigError
from auto_search.result import SearchResult
from auto_search.sections import ReportSection, register_section
from hybrid.errors import DataError
from hybrid.loop.data_mix import check_shares, parse_shares, share_grid
from hybrid.teachers.adapters import as_teacher

MIX_SCORING_SHARE = 0.15  # of the budget, kept for scoring every mix's shipped student


@runtime_checkable
class SourcePool(Protocol):
    """Named sources of data that can be drawn in given shares (``hybrid.DataPool`` is one)."""

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def sources(self) -> Mapping[str, Any]: ...

    def max_states(self, shares: Mapping[str, float]) -> int: ...

    def mix(self, shares: Mapping[str, float], n_states: int | None = None, seed: int = 0) -> Any: ...


def mix_text(shares: dict[str, float]) -> str:
    """``{"dagger": 0.5, "rollouts": 0.5}`` → ``"dagger=0.5,rollouts=0.5"`` (the config form)."""
    return ",".join(f"{k}={v:g}" for k, v in sorted(shares.items()))


def planned_mixes(config_mixes: tuple[str, ...], pool: SourcePool) -> list[dict[str, float]]:
    """The mixes to search, each checked against the pool's sources before any work."""
    try:
        mixes = [check_shares(parse_shares(m), pool.names) for m in config_mixes] if config_mixes else share_grid(pool.names, 0.5)
    except DataError as e:
        raise SearchConfigError(f"data_mixes: {e}.") from None
    if len({mix_text(m) for m in mixes}) != len(mixes):
        raise SearchConfigError(f"data_mixes lists a mix twice: {[mix_text(m) for m in mixes]}.")
    return mixes


def fit_pool(pool: SourcePool, config: SearchConfig, search_one: Callable[[SearchConfig, Any], SearchResult], *, env: Any, teacher: Any) -> SearchResult:
    """Run one search per mix on equal-size datasets (``search_one(config, dataset)``, the
    caller's own search); ship the mix whose student returns most in ``env`` against ``teacher``."""
    t0 = time.monotonic()
    if env is None or teacher is None:
        raise SearchConfigError(
            "choosing a data mix compares the students of each mix by return in the environment; pass env=… and teacher=… to AutoDistill (--env)."
        )
    mixes = planned_mixes(config.data_mixes, pool)
    n_states = min(pool.max_states(m) for m in mixes)
    per_mix = config.budget_s * (1 - MIX_SCORING_SHARE) / len(mixes)
    results = [search_one(replace(config, budget_s=per_mix, data_mixes=(mix_text(shares),)), pool.mix(shares, n_states, seed=config.seed)) for shares in mixes]
    rows: list[dict[str, Any]] = []
    n = config.closed_loop_max_episodes
    with PairedEpisodes(env, as_teacher(teacher), seed=config.seed, first=n, cap=n, confidence=config.confidence) as episodes:
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
    data_mix = {
        "shipped": win["mix"],
        "n_states": n_states,
        "pool": pool.content_hash,
        "pool_sources": {k: len(v) for k, v in pool.sources.items()},
        "searched": rows,
        "budget_per_mix_s": per_mix,
        "total_s": time.monotonic() - t0,
        "words": words,
    }
    return results[best].with_sections(data_mix=data_mix, mix_results=tuple(results))


def _markdown(data: dict[str, Any]) -> list[str]:
    return ["## Data mix", "", data["data_mix"]["words"], ""]


def _html(data: dict[str, Any]) -> str:
    return f"<h2>Data mix</h2><p>{html.escape(data['data_mix']['words'])}</p>"


register_section(ReportSection("data_mix", 30, _markdown, _html))
