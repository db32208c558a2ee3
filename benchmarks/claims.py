"""Do retention claims hold? A calibration study of ``min-retention:0.99`` over settings × seeds.

For each setting (a committed teacher, its environment, a search budget) and seed: log the
teacher's rollouts, run ``AutoDistill(env=…, teacher=…, policy="min-retention:0.99")``, and test
the shipped student on 200 fresh episodes (a seed stream no search uses) against the teacher and
a random policy on the same episodes. A search *claims* the bar when its result says the bound
holds — ``result.shipped.bound_met`` where the code has it, else (the code before claims were
data) when the chosen candidate's lower bound on its selection episodes cleared the bar. A claim
*holds* when the test retention is ≥ 98%; it is *contradicted* when the shipped student's own
confirmation bound lies below the bar. Run it under two checkouts and compare:

    PYTHONPATH=. python benchmarks/claims.py --label new --json docs/claims.json
    PYTHONPATH=../old python benchmarks/claims.py --label old --json /tmp/claims_old.json
    python benchmarks/claims.py --compare /tmp/claims_old.json docs/claims.json > docs/claims.txt

``--quick`` runs one seed per setting at a quarter of the budget with 20 test episodes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BAR, HOLDS = 0.99, 0.98
TEST_SEED = 424_242  # test episodes: far from every seed a search uses (seed, seed + 1 + i, seed + 7919·k)
SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"env": ("CartPole-v1", None), "teacher": "CartPole-v1", "budget": 10.0, "train": 10},
    "CartPole-v1 at 60 s": {"env": ("CartPole-v1", None), "teacher": "CartPole-v1", "budget": 60.0, "train": 10},
    "noisy CartPole": {"env": ("CartPole-v1", 0.05), "teacher": "CartPole-v1", "budget": 10.0, "train": 10},
    "LunarLander-v3": {"env": ("LunarLander-v3", None), "teacher": "LunarLander-v3", "budget": 60.0, "train": 20},
    "windy LunarLander": {"env": ("LunarLander-v3", 15.0), "teacher": "LunarLander-v3-wind15", "budget": 60.0, "train": 20},
    "LunarLanderContinuous-v3": {"env": ("LunarLanderContinuous-v3", None), "teacher": "LunarLanderContinuous-v3", "budget": 60.0, "train": 20},
    "Pendulum-v1": {"env": ("Pendulum-v1", None), "teacher": "Pendulum-v1", "budget": 30.0, "train": 10},
}


def _env(spec: tuple[str, float | None]) -> Any:
    from hybrid.envs.noise import make_stochastic

    env_id, strength = spec
    return env_id if strength is None else make_stochastic(env_id, strength)


def _claim(result: Any) -> tuple[bool, float | None]:
    """Whether the search claims the bar, and the shipped student's confirmation lower bound."""
    from auto_search.policies import MinRetention

    shipped = result.shipped
    low = None if shipped is None or not shipped.loop else shipped.loop.get("retention_low")
    if shipped is not None and getattr(shipped, "claim", None) is not None:
        return bool(shipped.bound_met), low
    return bool(result.chosen is not None and MinRetention(BAR).bound_holds(result.chosen)), low


def run(settings: list[str], seeds: int, quick: bool, label: str) -> dict[str, Any]:
    """Every search's row, as JSON-able data."""
    from auto_search import AutoDistill
    from auto_search.closed_loop import PairedEpisodes
    from hybrid import collect, load_teacher

    rows = []
    t_all = time.monotonic()
    for name in settings:
        s = SETTINGS[name]
        teacher = load_teacher(s["teacher"])
        env = _env(s["env"])
        n_test = 20 if quick else 200
        with PairedEpisodes(env, teacher, seed=TEST_SEED, first=n_test, cap=n_test, confidence=0.95) as test:
            for seed in range(seeds):
                t0 = time.monotonic()
                data = collect(env, teacher, episodes=s["train"], seed=1000 + seed).dataset
                search = AutoDistill(
                    budget_s=s["budget"] / (4 if quick else 1), env=env, teacher=teacher, policy=f"min-retention:{BAR}", seed=seed, n_jobs=1, verbose=0
                )
                result = search.fit(data)
                search_s = time.monotonic() - t0
                claimed, confirmation_low = _claim(result)
                tested = None if result.student is None else test.score(result.student).retention
                loop = result.closed_loop or {}
                row = {
                    "label": label,
                    "setting": name,
                    "seed": seed,
                    "budget_s": search.budget_s,
                    "search_s": search_s,
                    "claimed": claimed,
                    "holds": bool(claimed and tested is not None and tested >= HOLDS),
                    "contradicted": bool(claimed and confirmation_low is not None and confirmation_low < BAR),
                    "family": None if result.shipped is None else result.shipped.family,
                    "ops_per_decision": None if result.shipped is None else result.shipped.ops_per_decision,
                    "selection": None if result.chosen is None else [result.chosen.retention, result.chosen.retention_low, result.chosen.retention_high],
                    "confirmation": None if not result.shipped or not result.shipped.loop else result.shipped.loop,
                    "test_retention": tested,
                    "test_episodes": n_test,
                    "episodes_choice": loop.get("episodes_run"),
                    "episodes_confirmation": (loop.get("confirmation") or {}).get("episodes_run"),
                    "verdict": result.verdict() if hasattr(result, "verdict") else None,
                }
                rows.append(row)
                print(
                    f"{label} {name} seed {seed}: claimed {claimed}, test retention {tested if tested is None else round(100 * tested, 1)}%, "
                    f"{row['family']} {row['ops_per_decision']}, {search_s:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return {"label": label, "quick": quick, "seconds": time.monotonic() - t_all, "rows": rows}


def summary(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per setting and overall: searches, claims made, claims that hold, contradicted claims,
    mean test retention of what shipped, search time and episodes."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in data["rows"]:
        groups.setdefault(r["setting"], []).append(r)
    groups["all"] = list(data["rows"])
    out = {}
    for name, rows in groups.items():
        tested = [r["test_retention"] for r in rows if r["test_retention"] is not None]
        out[name] = {
            "searches": len(rows),
            "claims": sum(r["claimed"] for r in rows),
            "hold": sum(r["holds"] for r in rows),
            "contradicted": sum(r["contradicted"] for r in rows),
            "shipped_test_mean": sum(tested) / len(tested) if tested else None,
            "search_s": sum(r["search_s"] for r in rows),
            "episodes": sum((r["episodes_choice"] or 0) + (r["episodes_confirmation"] or 0) for r in rows),
        }
    return out


def compare(paths: list[Path]) -> str:
    """The summaries of one or more runs side by side, one block per setting."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    sums = [summary(r) for r in runs]
    names = list(dict.fromkeys(n for s in sums for n in s))
    lines = [f"claims of min-retention:{BAR} (a claim holds when the shipped student keeps ≥ {100 * HOLDS:g}% over the test episodes)", ""]
    lines.append(
        f"{'setting':26} {'version':8} {'searches':>8} {'claims':>6} {'hold':>5} {'contradicted':>12} {'shipped test':>12} {'search s':>9} {'episodes':>9}"
    )
    for name in names:
        for run, s in zip(runs, sums):
            x = s.get(name)
            if x is None:
                continue
            mean = "" if x["shipped_test_mean"] is None else f"{100 * x['shipped_test_mean']:.1f}%"
            lines.append(
                f"{name:26} {run['label']:8} {x['searches']:8d} {x['claims']:6d} {x['hold']:5d} {x['contradicted']:12d} {mean:>12} {x['search_s']:9.0f} {x['episodes']:9d}"
            )
    for run, s in zip(runs, sums):
        a = s["all"]
        share = "no claims" if not a["claims"] else f"{100 * a['hold'] / a['claims']:.0f}% of claims hold"
        lines.append(f"\n{run['label']}: {a['claims']} claims in {a['searches']} searches, {share}, {a['contradicted']} contradicted by their own confirmation")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="one seed, a quarter of each budget, 20 test episodes")
    p.add_argument("--label", default="new")
    p.add_argument("--json", type=Path, help="write every row here")
    p.add_argument("--compare", nargs="+", type=Path, metavar="RUN.json", help="print runs side by side and exit")
    a = p.parse_args(argv)
    if a.compare:
        print(compare(a.compare), end="")
        return 0
    data = run(a.settings, 1 if a.quick else a.seeds, a.quick, a.label)
    if a.json:
        a.json.write_text(json.dumps(data, indent=1, default=float) + "\n")
    print(compare([a.json]) if a.json else json.dumps(summary(data), indent=1), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
