"""Fine-tune a tree or rule list by rollouts while keeping its structure: change leaf actions.

The splits (or rule conditions) stay; only the action a leaf (or rule, or the default) plays
may change. Leaves are tried in order of how often the student's own greedy episodes reach
them; each alternative action is rolled out on the same seeded *selection* episodes as the
current student, and kept only when the paired return gain's confidence interval lies above 0
(``hybrid.loop.paired.paired_gain``) — a change beyond episode-to-episode noise — and, with
``guard`` worlds, when the return there drops by at most ``guard_tolerance``. Accepted changes
accumulate (greedy hill climbing). The result is a new student (new content hash) in a
``hybrid.loop.finetune.Finetuned`` record naming its parent, world, steps and seed.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from hybrid.envs.adapter import episode_seeds, run_episodes
from hybrid.errors import DataError
from hybrid.loop.finetune import EnvSpec, Finetuned, env_spec, greedy_returns, guard_ok
from hybrid.loop.paired import paired_gain

# a world as hybrid.loop.finetune.env_spec takes it: a gymnasium id, an (id, kwargs) pair or an EnvSpec
_World: TypeAlias = "str | EnvSpec | tuple[str, dict[str, Any]]"


def _leaf_of(student: Any, X: np.ndarray) -> np.ndarray:
    """The leaf (tree node) or rule index (-1: the default) deciding each state."""
    return student.apply(X) if student.family == "tree" else student.match(X)


def _actions_of(student: Any) -> dict[int, int]:
    """Current action per leaf id (tree nodes; rule indices with -1 the default)."""
    if student.family == "tree":
        leaves = np.flatnonzero(student.feature_ < 0)
        return {int(n): int(np.argmax(student.value_[n])) for n in leaves}
    return {**{i: int(r.action) for i, r in enumerate(student.rules_)}, -1: int(student.default_action_)}


def with_leaf_action(student: Any, leaf: int, action: int) -> Any:
    """A new student whose ``leaf`` plays ``action`` (probability 1); structure unchanged."""
    from hybrid.students import Student

    data = student.to_dict()
    onehot = [0.0] * int(data["n_actions"])
    onehot[action] = 1.0
    state = data["state"]
    if student.family == "tree":
        k = int(data["n_actions"])
        value = np.asarray(state["value"], dtype=np.float64).reshape(-1, k)
        value[leaf] = onehot
        state["value"] = value.reshape(np.shape(state["value"])).tolist()
    elif leaf < 0:
        state["default"] = {**state["default"], "action": action, "proba": onehot}
    else:
        state["rules"][leaf] = {**state["rules"][leaf], "action": action, "proba": onehot}
    return Student.from_dict(data)


def _visits(spec: EnvSpec, student: Any, seeds: list[int]) -> tuple[dict[int, int], int]:
    env = spec.make()
    try:
        states, _ = run_episodes(env, lambda x: int(student.predict(x[None, :])[0]), seeds)
    finally:
        env.close()
    X = np.concatenate(states)
    ids, counts = np.unique(_leaf_of(student, X), return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts)}, len(X)


def improve_leaves(
    student: Any,
    env: _World,
    *,
    seed: int,
    episodes: int = 30,
    max_leaves: int = 12,
    confidence: float = 0.95,
    guard: _World | list[_World] | None = None,
    guard_tolerance: float = 0.02,
) -> Finetuned:
    """Try every other action at the ``max_leaves`` most visited leaves of a tree or rule list;
    keep each change whose paired gain on ``episodes`` selection episodes (seed stream
    ``seed``) is significant at ``confidence`` and that keeps every ``guard`` world's return
    within ``guard_tolerance`` (a share of its mean). Returns the improved student, unchanged
    when nothing cleared the bar (``result.changed`` says which)."""
    family = getattr(student, "family", "")
    if family not in ("tree", "rules"):
        raise DataError(
            f"improve_leaves changes the leaf actions of tree and rule-list students; got {family or type(student).__name__!r} (MLPs: use finetune_mlp)"
        )
    if episodes < 2 or max_leaves < 1 or not 0.5 <= confidence < 1 or guard_tolerance < 0:
        raise DataError(
            f"episodes must be ≥ 2, max_leaves ≥ 1, confidence in [0.5, 1), guard_tolerance ≥ 0; got {episodes}, {max_leaves}, {confidence}, {guard_tolerance}"
        )
    spec = env_spec(env)
    guards = [] if guard is None else [env_spec(g) for g in (guard if isinstance(guard, list) else [guard])]
    seeds = episode_seeds(seed, episodes)
    current = student
    current_r, steps = greedy_returns(spec, current, seeds)
    start_mean = float(current_r.mean())
    guard_r = []
    for g in guards:
        r, n = greedy_returns(g, current, seeds)
        guard_r.append(r)
        steps += n
    visits, n = _visits(spec, current, seeds)
    steps += n
    order = sorted(visits, key=lambda leaf: (-visits[leaf], leaf))[:max_leaves]
    history: list[dict[str, Any]] = []
    for leaf in order:
        now = _actions_of(current)[leaf]
        for action in range(int(current.n_actions_)):
            if action == now:
                continue
            trial = with_leaf_action(current, leaf, action)
            r, n = greedy_returns(spec, trial, seeds)
            steps += n
            gain = paired_gain(r, current_r, confidence)
            record = {
                "leaf": leaf,
                "from": now,
                "to": action,
                "visits": visits[leaf],
                "gain": round(gain.mean, 3),
                "low": round(gain.low, 3),
                "accepted": False,
            }
            if gain.significant:
                trial_guard = []
                for g in guards:
                    rg, n = greedy_returns(g, trial, seeds)
                    steps += n
                    trial_guard.append(rg)
                if all(guard_ok(new, old, guard_tolerance) for new, old in zip(trial_guard, guard_r)):
                    current, current_r, guard_r, now = trial, r, trial_guard, action
                    record["accepted"] = True
            history.append(record)
    accepted = [h for h in history if h["accepted"]]
    return Finetuned(
        student=current,
        parent_hash=student.content_hash,
        method="leaf-actions by paired rollouts",
        env=spec,
        steps=steps,
        seed=seed,
        selection={
            "episodes": episodes,
            "confidence": confidence,
            "guards": [g.to_dict() for g in guards],
            "guard_tolerance": guard_tolerance,
            "tried": len(history),
            "accepted": len(accepted),
            "start_mean_return": start_mean,
            "final_mean_return": float(current_r.mean()),
        },
        history=tuple(history),
    )
