"""Everything AutoDistill does differently for continuous actions, in one place.

A dataset's ``action_kind`` decides: with continuous actions the search runs the continuous
families (regression trees, rule lists with linear actions, tiny MLP regressors, hybrids; each
declares its search space in its own module, with ``searched_by_default=False`` so discrete
searches never get them), fits them with the dataset's action bounds, scores fidelity as the
share of held-out states within ``hybrid.metrics.DEFAULT_TOLERANCE`` of each action's range
(normalised MSE in the ``kl`` column, lower is better), measures agreement in the loop the same
way, and runs continuous DAgger rounds for the chosen student. The random baseline of retention
is ``env.action_space.sample()`` for both kinds. The plan, the Pareto front, the policies and the
report are the same as for discrete actions; a continuous student has no confusion table.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from auto_search.errors import SearchConfigError


def is_continuous(data: Any) -> bool:
    """Whether a dataset (or the search's split of it) holds continuous actions."""
    return getattr(data, "action_kind", "discrete") == "continuous"


def default_families() -> tuple[str, ...]:
    """The registered continuous families, in their declared order."""
    import hybrid.students  # noqa: F401  (registers the built-in families)
    from hybrid.students import registered_families

    found = registered_families(action_kind="continuous").values()
    return tuple(cls.family for cls in sorted(found, key=lambda c: (c.search_order, c.family)))


def families_for(dataset: Any, families: tuple[str, ...], discrete_defaults: tuple[str, ...]) -> tuple[str, ...]:
    """The families to search ``dataset`` with: the continuous ones when a continuous dataset meets
    the (discrete) default families; refuses any family of the other action kind."""
    from auto_search.space import student_class

    kind = "continuous" if is_continuous(dataset) else "discrete"
    if kind == "continuous" and tuple(families) == tuple(discrete_defaults):
        families = default_families()
    wrong = [f for f in families if getattr(student_class(f), "action_kind", "discrete") != kind]
    if wrong:
        known = default_families() if kind == "continuous" else tuple(discrete_defaults)
        raise SearchConfigError(
            f"the dataset holds {kind} actions but famil{'y' if len(wrong) == 1 else 'ies'} {wrong} "
            f"predict{'s' if len(wrong) == 1 else ''} the other kind; pick from {list(known)}."
        )
    return tuple(families)


def check_dataset(ds: Any) -> str | None:
    """Why a continuous dataset cannot be searched, or None when it can."""
    if np.ptp(ds.P, axis=0).max() <= 0:
        return f"the teacher gave the same action in all {len(ds)} states; there is nothing to distil (a constant reproduces it)"
    return None


def split_fields(ds: Any) -> dict[str, Any]:
    """The ``SplitData`` fields a continuous dataset adds (none for a discrete one)."""
    if not is_continuous(ds):
        return {}
    return {"action_kind": "continuous", "action_low": ds.action_low, "action_high": ds.action_high}


def report_fields(ds: Any) -> dict[str, Any]:
    """What the report says of the dataset's action kind and how fidelity is counted for it: the
    tolerance (a share of each dimension's range, ``hybrid.metrics.DEFAULT_TOLERANCE``) and the
    bounds it is a share of; ``None`` for discrete actions, whose fidelity is top-1 agreement."""
    if not is_continuous(ds):
        return {"action_kind": "discrete", "fidelity_tolerance": None, "action_low": None, "action_high": None}
    from hybrid.metrics import DEFAULT_TOLERANCE

    bounds = {k: [float(v) for v in np.asarray(getattr(ds, k), dtype=np.float64)] for k in ("action_low", "action_high")}
    return {"action_kind": "continuous", "fidelity_tolerance": DEFAULT_TOLERANCE, **bounds}


def fit(student: Any, X: np.ndarray, A: np.ndarray, w: np.ndarray | None, data: Any) -> Any:
    """Fit a continuous student with the split's bounds and names."""
    return student.fit(X, A, w, action_low=data.action_low, action_high=data.action_high, feature_names=data.feature_names, action_names=data.action_names)


def score(data: Any, student: Any) -> tuple[float, float]:
    """(fidelity within tolerance, normalised MSE) of ``student`` on the held-out states."""
    from hybrid.metrics import action_fidelity, normalised_mse

    A = student.predict(data.X_val)
    return (
        float(action_fidelity(data.P_val, A, data.action_low, data.action_high, weights=data.w_val)),
        float(normalised_mse(data.P_val, A, data.action_low, data.action_high, weights=data.w_val)),
    )


def baseline_fidelity(data: Any) -> float:
    """Fidelity of always playing the training states' mean action: a student must beat it."""
    from hybrid.metrics import action_fidelity

    mean = np.broadcast_to(data.P.mean(axis=0), data.P_val.shape)
    return float(action_fidelity(data.P_val, mean, data.action_low, data.action_high))


def as_env_teacher(teacher: Any, env: Any) -> Any:
    """The teacher adapted with the environment's action space (a plain callable needs the Box)."""
    from hybrid.envs.adapter import make_env
    from hybrid.teachers.adapters import as_teacher

    env_obj, owned = make_env(env)
    try:
        return as_teacher(teacher, action_space=env_obj.action_space)
    finally:
        if owned:
            env_obj.close()


def dagger_iterates(
    env: Any, teacher: Any, student: Any, rows: Any, iterations: int, episodes: int, *, beta: float, seed: int, start: Any
) -> Generator[tuple[int, float, Any, Any], None, None]:
    """Continuous DAgger rounds of ``start`` on ``rows`` (see ``hybrid.loop.dagger``)."""
    from hybrid.loop.dagger import dagger_iterates as loop_dagger_iterates

    return loop_dagger_iterates(env, teacher, student, rows, iterations, episodes, beta=beta, seed=seed, start=start)
