"""Everything AutoDistill does differently for continuous actions, in one place.

A dataset's ``action_kind`` decides: with continuous actions the search runs the continuous
families (regression trees, rule lists with linear actions, tiny MLP regressors, hybrids),
fits them with the dataset's action bounds, scores fidelity as the share of held-out states
within ``hybrid.metrics.DEFAULT_TOLERANCE`` of each action's range (normalised MSE in the ``kl``
column, lower is better), rolls the Pareto students out against a uniform-in-the-Box random
policy and runs continuous DAgger for the chosen one. The plan, the Pareto front, the policies
and the report are the same as for discrete actions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CONTINUOUS_FAMILIES = ("regression_tree", "linear_rules", "mlp_regressor", "hybrid_regressor")
CLASSES = {
    "regression_tree": ("hybrid.students.regression_tree", "RegressionTreeStudent"),
    "linear_rules": ("hybrid.students.linear_rules", "LinearRuleListStudent"),
    "mlp_regressor": ("hybrid.students.mlp_regressor", "MLPRegressorStudent"),
    "hybrid_regressor": ("hybrid.students.hybrid_regressor", "HybridRegressorStudent"),
}
EXPENSIVE = frozenset({"mlp_regressor", "hybrid_regressor"})
_HIDDEN = ((), (4,), (8,), (16,), (32,), (16, 16), (64,))


def family_space(family: str, *, epochs: int) -> list[dict[str, Any]] | None:
    """Hyperparameters of a continuous family, cheapest first (None for a discrete family)."""
    if family == "regression_tree":
        return ([{"max_depth": d} for d in (2, 3, 4, 5, 6, 8, 10)]
                + [{"max_depth": None, "max_leaf_nodes": n, "leaf_model": "linear"} for n in (4, 8, 16, 32)])
    if family == "linear_rules":
        return [{"max_rules": n} for n in (2, 4, 8, 12, 16, 24, 32, 48)]
    if family == "mlp_regressor":
        return [{"hidden_sizes": list(h), "epochs": max(epochs, 100)} for h in _HIDDEN]
    if family == "hybrid_regressor":
        return [{"max_rules": r, "tau": t, "hidden_sizes": list(h), "epochs": max(epochs, 100)}
                for h in ((8,), (16,)) for r, t in ((8, 0.9), (16, 0.9), (16, 0.8), (32, 0.8))]
    return None


def is_continuous(data: Any) -> bool:
    """Whether a dataset (or the search's split of it) holds continuous actions."""
    return getattr(data, "action_kind", "discrete") == "continuous"


def default_families(dataset: Any, families: tuple[str, ...], discrete_defaults: tuple[str, ...]) -> tuple[str, ...]:
    """The continuous families when a continuous dataset meets the (discrete) default families."""
    return CONTINUOUS_FAMILIES if is_continuous(dataset) and tuple(families) == tuple(discrete_defaults) else tuple(families)


def check_dataset(ds: Any) -> str | None:
    """Why a continuous dataset cannot be searched, or None when it can."""
    if np.ptp(ds.P, axis=0).max() <= 0:
        return f"the teacher gave the same action in all {len(ds)} states; there is nothing to distil (a constant reproduces it)"
    return None


def fit(student: Any, X: np.ndarray, A: np.ndarray, w: np.ndarray | None, data: Any) -> Any:
    """Fit a continuous student with the dataset's bounds and names."""
    return student.fit(X, A, w, action_low=data.action_low, action_high=data.action_high,
                       feature_names=data.feature_names, action_names=data.action_names)


def score(data: Any, student: Any) -> tuple[float, float]:
    """(fidelity within tolerance, normalised MSE) of ``student`` on the held-out states."""
    from hybrid.metrics import action_fidelity, normalised_mse

    A = student.predict(data.X_val)
    return (float(action_fidelity(data.P_val, A, data.action_low, data.action_high, weights=data.w_val)),
            float(normalised_mse(data.P_val, A, data.action_low, data.action_high, weights=data.w_val)))


def baseline_fidelity(data: Any) -> float:
    """Fidelity of always playing the training states' mean action: a student must beat it."""
    from hybrid.metrics import action_fidelity

    mean = np.broadcast_to(data.P.mean(axis=0), data.P_val.shape)
    return float(action_fidelity(data.P_val, mean, data.action_low, data.action_high))


class UniformBoxPolicy:
    """The random baseline of retention for a ``Box``: actions uniform within the bounds (seeded)."""

    action_kind = "continuous"

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int) -> None:
        self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, size=(np.asarray(X).shape[0], len(self.low)))


def as_env_teacher(teacher: Any, env: Any) -> Any:
    """The teacher adapted with the environment's action space (a plain callable needs the Box)."""
    from hybrid.rollouts import make_env
    from hybrid.teachers import as_teacher

    env_obj, owned = make_env(env)
    try:
        return as_teacher(teacher, action_space=env_obj.action_space)
    finally:
        if owned:
            env_obj.close()


def dagger(env: Any, teacher: Any, student: Any, config: Any, dataset: Any) -> Any:
    """Continuous DAgger rounds for the chosen student (best iterate by measured return)."""
    from hybrid.dagger_continuous import dagger_continuous

    return dagger_continuous(env, teacher, student, iterations=config.dagger_iterations,
                             episodes_per_iteration=config.closed_loop_episodes, beta=0.5, seed=config.seed, dataset=dataset)
