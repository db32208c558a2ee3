"""Several teachers, several data sources, distill + RL fine-tune: the figures of issue 12.

Three parts, each writing its figures into one JSON (and a text table):

* **mixture** — students of one family and size distilled from the nominal LunarLander-v3
  teacher alone, the windy one (wind 15, turbulence 1.5) alone, and their mixture teacher
  (the gate chosen on selection episodes), each from rollouts in both worlds; mean return
  averaged over the two worlds.
* **data** — on nominal LunarLander, AutoDistill over a pool of teacher rollouts, DAgger states
  and DART-style noisy rollouts searches the shares for trees of depth ≤ 8; the shipped mix
  against the same search on pure teacher rollouts (same number of states).
* **finetune** — a ≤ 8-rule list and a 4-unit MLP distilled from the nominal teacher,
  fine-tuned under wind 15 (nominal world as guard); and a depth-4 tree fine-tuned on nominal
  LunarLander, retention before and after.

Every final figure is measured on 100 test episodes whose seeds (``TEST_SEED`` stream) were
never used for a choice; choices use the selection stream ``SELECT_SEED``, data the
``COLLECT_SEED`` stream.

    python benchmarks/mixture_finetune.py --json docs/mixture_finetune.json            # all parts
    python benchmarks/mixture_finetune.py --parts finetune --episodes 20 --train-episodes 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from auto_search.search import AutoDistill
from hybrid.envs.adapter import episode_seeds, run_episodes
from hybrid.loop.data_mix import DataPool, noisy_rollouts, student_states, teacher_rollouts
from hybrid.loop.finetune import EnvSpec, finetune_mlp
from hybrid.loop.finetune_leaves import improve_leaves
from hybrid.loop.paired import paired_gain, retention
from hybrid.students.mlp import MLPStudent
from hybrid.students.rules import RuleListStudent
from hybrid.students.tree import TreeStudent
from hybrid.teachers.mixture import mixture_teacher
from hybrid.teachers.zoo import load_teacher

ENV = "LunarLander-v3"
WIND = {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5}
WORLDS = {"nominal": EnvSpec(ENV), "wind15": EnvSpec(ENV, WIND)}
COLLECT_SEED, SELECT_SEED, TEST_SEED = 100, 200, 31_337  # three disjoint seed streams


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", default=["mixture", "data", "finetune"], choices=["mixture", "data", "finetune"])
    p.add_argument("--episodes", type=int, default=100, help="test episodes per figure (default 100)")
    p.add_argument("--train-episodes", type=int, default=30, help="teacher episodes per source and world (default 30)")
    p.add_argument("--select-episodes", type=int, default=30, help="selection episodes for every choice (default 30)")
    p.add_argument("--budget", type=float, default=180.0, help="AutoDistill seconds for the data-mix search (default 180)")
    p.add_argument("--ppo-steps", type=int, default=100_000, help="PPO steps for the MLP fine-tune (default 100k)")
    p.add_argument("--json", type=Path, help="merge the figures into this JSON file (and a .txt table beside it)")
    return p.parse_args(argv)


def returns(spec: EnvSpec, policy: Any, seed: int, episodes: int) -> np.ndarray:
    """Greedy returns of ``policy`` on ``episodes`` seeded episodes of ``spec``."""
    env = spec.make()
    try:
        _, rewards = run_episodes(env, lambda x: int(policy.predict(x[None, :])[0]), episode_seeds(seed, episodes))
    finally:
        env.close()
    return np.array([sum(r) for r in rewards])


def random_returns(spec: EnvSpec, seed: int, episodes: int) -> np.ndarray:
    env = spec.make()
    out = []
    for s in episode_seeds(seed, episodes):
        env.action_space.seed(s)
        _, rewards = run_episodes(env, lambda x: env.action_space.sample(), [s])
        out.append(sum(rewards[0]))
    env.close()
    return np.array(out)


def summary(r: np.ndarray) -> dict[str, float]:
    return {"mean": round(float(r.mean()), 2), "stderr": round(float(r.std(ddof=1) / np.sqrt(len(r))), 2)}


def collect_both(teacher: Any, episodes: int, seed: int) -> Any:
    """The teacher's rollouts in both worlds, stacked (rows tagged with teacher and source)."""
    from hybrid.data.dataset import DistillDataset

    parts = [teacher_rollouts(spec.make(), teacher, episodes, seed + i) for i, spec in enumerate(WORLDS.values())]
    return DistillDataset.concat(parts)


# -- mixture ------------------------------------------------------------------------------------
def part_mixture(args: argparse.Namespace) -> dict[str, Any]:
    nominal, windy = load_teacher(ENV), load_teacher(f"{ENV}-wind15")
    make = lambda: MLPStudent(hidden_sizes=(16,), epochs=40, random_state=0)  # noqa: E731  (one family and size for all)
    teachers: dict[str, Any] = {"nominal teacher alone": nominal, "windy teacher alone": windy}
    gates = {
        "average": mixture_teacher([nominal, windy]),
        "average 0.75/0.25": mixture_teacher([nominal, windy], weights=[0.75, 0.25]),
        "average 0.25/0.75": mixture_teacher([nominal, windy], weights=[0.25, 0.75]),
        "confident": mixture_teacher([nominal, windy], gate="confident"),
    }  # the gate and the average's weights (nominal/windy) are chosen on selection episodes
    students, selection = {}, {}
    for name, t in {**teachers, **{f"mixture ({g})": m for g, m in gates.items()}}.items():
        data = collect_both(t, args.train_episodes, COLLECT_SEED)
        students[name] = make().fit(data.X, data.P, feature_names=data.feature_names, action_names=data.action_names)
        selection[name] = float(np.mean([returns(spec, students[name], SELECT_SEED, args.select_episodes).mean() for spec in WORLDS.values()]))
    best_gate = max(gates, key=lambda g: (selection[f"mixture ({g})"], g == "average"))
    shown = [*teachers, f"mixture ({best_gate})"]
    out: dict[str, Any] = {
        "student": "MLP (16,) relu",
        "gate_chosen_on_selection": best_gate,
        "selection_mean": selection,
        "test_episodes": args.episodes,
        "test": {},
    }
    for name in shown:
        per_world = {w: returns(spec, students[name], TEST_SEED, args.episodes) for w, spec in WORLDS.items()}
        out["test"][name] = {**{w: summary(r) for w, r in per_world.items()}, "average": round(float(np.mean([r.mean() for r in per_world.values()])), 2)}
    out["teachers_test"] = {n: {w: summary(returns(spec, t, TEST_SEED, args.episodes)) for w, spec in WORLDS.items()} for n, t in teachers.items()}
    mix = out["test"][f"mixture ({best_gate})"]["average"]
    out["hit"] = bool(all(mix > out["test"][n]["average"] for n in teachers))
    return out


# -- data strategies -------------------------------------------------------------------------------
def depth_at_most_8(pool: list[Any]) -> Any:
    """Among trees of depth ≤ 8, the best selection retention (held-out fidelity where unscored)."""
    ok = [c for c in pool if c.params.get("max_depth") is not None and c.params["max_depth"] <= 8] or pool
    return max(ok, key=lambda c: (c.retention if c.retention is not None else -1.0, c.fidelity or 0.0, -c.id))


def part_data(args: argparse.Namespace) -> dict[str, Any]:
    teacher = load_teacher(ENV)
    spec = WORLDS["nominal"]
    rollouts = teacher_rollouts(ENV, teacher, args.train_episodes, COLLECT_SEED)
    cloned = TreeStudent(max_depth=8).fit(rollouts.X, rollouts.P)
    pool = DataPool(
        {
            "rollouts": rollouts,
            "dagger": student_states(ENV, teacher, cloned, args.train_episodes, COLLECT_SEED + 1),
            "noisy": noisy_rollouts(ENV, teacher, args.train_episodes, COLLECT_SEED + 2, epsilon=0.2),
        }
    )
    search = AutoDistill(
        families=["tree"], budget_s=args.budget, policy=depth_at_most_8, env=ENV, teacher=teacher, seed=0, n_jobs=1, verbose=0,
        closed_loop_episodes=5, closed_loop_max_episodes=args.select_episodes, dagger_iterations=0,
    )  # fmt: skip
    result = search.fit(pool)
    assert result.data_mix is not None
    rows = result.data_mix["searched"]
    pure = next(i for i, r in enumerate(rows) if r["mix"] == {"rollouts": 1.0})
    shipped, baseline = result.student, result.mix_results[pure].student
    t = returns(spec, teacher, TEST_SEED, args.episodes)
    rnd = random_returns(spec, TEST_SEED, args.episodes)
    s_mix, s_pure = returns(spec, shipped, TEST_SEED, args.episodes), returns(spec, baseline, TEST_SEED, args.episodes)
    gain = paired_gain(s_mix, s_pure)
    return {
        "pool_sources": result.data_mix["pool_sources"],
        "n_states": result.data_mix["n_states"],
        "searched": [{k: r.get(k) for k in ("mix", "retention", "return_mean", "ops_per_decision")} for r in rows],
        "shipped_mix": result.data_mix["shipped"],
        "shipped_tree": {"max_depth": int(shipped.depth_), "ops": shipped.cost().ops_per_decision},
        "pure_rollouts_tree": {"max_depth": int(baseline.depth_), "ops": baseline.cost().ops_per_decision},
        "test": {
            "teacher": summary(t),
            "random": summary(rnd),
            "searched_mix": {**summary(s_mix), "retention": round(retention(s_mix.mean(), t.mean(), rnd.mean()), 4)},
            "pure_rollouts": {**summary(s_pure), "retention": round(retention(s_pure.mean(), t.mean(), rnd.mean()), 4)},
            "paired_gain": {"mean": round(gain.mean, 2), "stderr": round(gain.stderr, 2), "low95": round(gain.low, 2)},
        },
        "hit": bool(gain.mean > 0 and shipped.depth_ <= 8),
        "search_s": round(result.data_mix["total_s"], 1),
    }


# -- fine-tuning ------------------------------------------------------------------------------------
def _before_after(parent: Any, child: Any, episodes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w, spec in WORLDS.items():
        before, after = returns(spec, parent, TEST_SEED, episodes), returns(spec, child, TEST_SEED, episodes)
        g = paired_gain(after, before)
        out[w] = {
            "before": summary(before),
            "after": summary(after),
            "gain": round(g.mean, 2),
            "gain_stderr": round(g.stderr, 2),
            "change_share": round(g.mean / abs(before.mean()), 4),
        }
    return out


def part_finetune(args: argparse.Namespace) -> dict[str, Any]:
    teacher = load_teacher(ENV)
    data = teacher_rollouts(ENV, teacher, args.train_episodes, COLLECT_SEED)
    kw = {"feature_names": data.feature_names, "action_names": data.action_names}
    out: dict[str, Any] = {}
    wind, nominal = (ENV, WIND), ENV
    rules = RuleListStudent(max_rules=8, random_state=0).fit(data.X, data.P, **kw)
    t0 = time.monotonic()
    tuned = improve_leaves(rules, wind, seed=SELECT_SEED, episodes=args.select_episodes, max_leaves=9, guard=nominal, guard_tolerance=0.02)
    out["rules8_wind"] = {
        "rules": len(rules.rules_),
        "accepted_changes": tuned.selection["accepted"],
        "tried": tuned.selection["tried"],
        "steps": tuned.steps,
        "seconds": round(time.monotonic() - t0, 1),
        "new_hash": tuned.student.content_hash != rules.content_hash,
        **_before_after(rules, tuned.student, args.episodes),
    }
    r = out["rules8_wind"]
    r["hit"] = bool(r["wind15"]["gain"] > r["wind15"]["gain_stderr"] and r["nominal"]["change_share"] >= -0.02)
    mlp = MLPStudent(hidden_sizes=(4,), epochs=40, random_state=0).fit(data.X, data.P, **kw)
    t0 = time.monotonic()
    ft = finetune_mlp(
        mlp,
        wind,
        steps=args.ppo_steps,
        seed=SELECT_SEED,
        kl_coef=0.05,
        select_episodes=args.select_episodes,
        checkpoints=5,
        guard=nominal,
        guard_tolerance=0.02,
    )
    out["mlp4_wind"] = {
        "steps": ft.steps,
        "seconds": round(time.monotonic() - t0, 1),
        "shipped_at_steps": ft.selection["shipped_at_steps"],
        **_before_after(mlp, ft.student, args.episodes),
    }
    m = out["mlp4_wind"]
    m["hit"] = bool(m["wind15"]["gain"] > m["wind15"]["gain_stderr"] and m["nominal"]["change_share"] >= -0.02)
    tree = TreeStudent(max_depth=4).fit(data.X, data.P, **kw)
    t0 = time.monotonic()
    better = improve_leaves(tree, nominal, seed=SELECT_SEED, episodes=args.select_episodes, max_leaves=16)
    spec = WORLDS["nominal"]
    t, rnd = returns(spec, teacher, TEST_SEED, args.episodes), random_returns(spec, TEST_SEED, args.episodes)
    before, after = returns(spec, tree, TEST_SEED, args.episodes), returns(spec, better.student, TEST_SEED, args.episodes)
    g = paired_gain(after, before)
    out["tree4_nominal"] = {
        "accepted_changes": better.selection["accepted"],
        "tried": better.selection["tried"],
        "steps": better.steps,
        "seconds": round(time.monotonic() - t0, 1),
        "retention_before": round(retention(before.mean(), t.mean(), rnd.mean()), 4),
        "retention_after": round(retention(after.mean(), t.mean(), rnd.mean()), 4),
        "return_before": summary(before),
        "return_after": summary(after),
        "gain": round(g.mean, 2),
        "gain_stderr": round(g.stderr, 2),
        "teacher": summary(t),
        "random": summary(rnd),
    }
    return out


def table(figures: dict[str, Any]) -> str:
    """Plain-text tables of whatever parts the JSON holds."""
    lines = []
    if "mixture" in figures:
        m = figures["mixture"]
        n = m.get("test_episodes", 100)
        lines += [f"Mixture ({m['student']}; gate {m['gate_chosen_on_selection']} chosen on selection episodes), {n} test episodes per world", ""]
        lines += [f"{'student from':<26} {'nominal':>16} {'wind 15':>16} {'average':>9}"]
        for name, r in m["test"].items():
            lines.append(
                f"{name:<26} {r['nominal']['mean']:>9.1f} ± {r['nominal']['stderr']:<4.1f} {r['wind15']['mean']:>9.1f} ± {r['wind15']['stderr']:<4.1f} {r['average']:>9.1f}"
            )
        lines += [f"aim hit: {m['hit']}", ""]
    if "data" in figures:
        d = figures["data"]
        lines += [f"Data strategies (trees depth ≤ 8, {d['n_states']} states per mix), test episodes:", ""]
        for key in ("searched_mix", "pure_rollouts"):
            r = d["test"][key]
            lines.append(f"{key:<14} {r['mean']:>8.1f} ± {r['stderr']:<5.1f} retention {100 * r['retention']:.1f}%")
        g = d["test"]["paired_gain"]
        lines += [f"shipped mix {d['shipped_mix']}; paired gain {g['mean']:.1f} ± {g['stderr']:.1f}; aim hit: {d['hit']}", ""]
    if "finetune" in figures:
        f = figures["finetune"]
        for key in ("rules8_wind", "mlp4_wind"):
            r = f[key]
            lines.append(
                f"{key}: wind15 {r['wind15']['before']['mean']:.1f} → {r['wind15']['after']['mean']:.1f} (gain {r['wind15']['gain']:.1f} ± {r['wind15']['gain_stderr']:.1f}); "
                f"nominal {r['nominal']['before']['mean']:.1f} → {r['nominal']['after']['mean']:.1f} ({100 * r['nominal']['change_share']:+.1f}%); aim hit: {r['hit']}"
            )
        t = f["tree4_nominal"]
        lines.append(
            f"tree4_nominal: retention {100 * t['retention_before']:.1f}% → {100 * t['retention_after']:.1f}% (gain {t['gain']:.1f} ± {t['gain_stderr']:.1f} return)"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    gym.logger.min_level = 40
    figures: dict[str, Any] = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    figures["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    for part in args.parts:
        t0 = time.monotonic()
        figures[part] = {"mixture": part_mixture, "data": part_data, "finetune": part_finetune}[part](args)
        figures[part]["part_seconds"] = round(time.monotonic() - t0, 1)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n")
            args.json.with_suffix(".txt").write_text(table(figures))
        print(json.dumps({part: figures[part]}, indent=1), flush=True)
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
