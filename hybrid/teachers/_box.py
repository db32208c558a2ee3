"""Continuous-action teachers: anything that maps states to bounded action vectors.

``as_teacher`` sends here every teacher whose action kind is continuous: a stable-baselines3
SAC / TD3 / DDPG / PPO / A2C model with a ``Box`` action space, a torch module or object that
declares ``action_kind = "continuous"`` (the zoo's SAC teachers, continuous students), or any
callable ``X[n, d] -> A[n, m]`` given ``action_space=Box(...)``. The deterministic action is the
policy's mode (SB3's ``predict(deterministic=True)``: the squashed mean for SAC/TD3, the clipped
Gaussian mean for PPO/A2C). Bounds come from the ``Box``; outputs are clipped to them as SB3
clips before stepping. A wrong shape or NaN is a ``TeacherError`` naming the row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hybrid.data.dataset import check_names as _names
from hybrid.errors import DataError, TeacherError
from hybrid.spaces import BoxActions
from hybrid.validation import teacher_states

ArrayFn = Callable[[np.ndarray], np.ndarray]
STD_FLOOR = 1e-3  # relative std below which a teacher counts as fully certain (keeps weights finite)


class ContinuousTeacher:
    """A validated continuous teacher: ``predict(X[n, d]) -> float32 [n, m]`` within the bounds.

    ``action_std(X)`` gives the teacher's per-dimension spread in action units when it has
    one (``None`` otherwise); ``ops_per_decision`` counts the multiply-adds of one deterministic
    decision when countable. ``action_names`` names the action dimensions.
    """

    action_kind = "continuous"

    def __init__(
        self,
        action_fn: ArrayFn,
        action_low: Any,
        action_high: Any,
        action_names: Sequence[str] | None = None,
        *,
        feature_names: Sequence[str] | None = None,
        std_fn: ArrayFn | None = None,
        ops_per_decision: float | None = None,
        identity: str = "teacher",
        content_hash: str | None = None,
    ) -> None:
        low = np.asarray(action_low, dtype=np.float32).reshape(-1)
        high = np.asarray(action_high, dtype=np.float32).reshape(-1)
        if low.shape != high.shape or not (np.isfinite(low).all() and np.isfinite(high).all()) or not (high > low).all():
            raise TeacherError(
                f"teacher {identity!r} has action bounds {low.tolist()}..{high.tolist()}; a continuous "
                "teacher needs a Box with finite bounds and high > low in every dimension"
            )
        self._action_fn = action_fn
        self._std_fn = std_fn
        self.action_low, self.action_high = low, high
        names = action_names or tuple(f"action_{i}" for i in range(len(low)))
        self.action_names = _names(names, "action_names")
        if len(self.action_names) != len(low):
            raise TeacherError(
                f"teacher {identity!r} names {len(self.action_names)} action dimensions but its bounds have {len(low)}; give one name per dimension"
            )
        self.feature_names = None if feature_names is None else _names(feature_names, "feature_names")
        self.ops_per_decision = None if ops_per_decision is None else float(ops_per_decision)
        self.identity = identity
        self.content_hash = content_hash

    def __repr__(self) -> str:
        return f"ContinuousTeacher({self.identity!r}, actions={self.action_names})"

    @property
    def n_actions(self) -> int:
        """Number of action dimensions."""
        return len(self.action_names)

    @property
    def action_space(self) -> BoxActions:
        """The teacher's bounded action dimensions."""
        return BoxActions(self.action_names, self.action_low, self.action_high)

    def _states(self, X: Any) -> np.ndarray:
        return teacher_states(X, self.feature_names, self.identity, copy=True)

    def predict(self, X: Any) -> np.ndarray:
        """Deterministic actions, validated and clipped to the bounds: float32 ``[n, m]``."""
        states = self._states(X)
        A = validate_actions(self._action_fn(states), len(states), self.n_actions, self.identity, "actions")
        return np.clip(A, self.action_low, self.action_high)

    def targets(self, X: Any) -> np.ndarray:
        """What a dataset keeps of the teacher's decisions: its deterministic actions ``[n, m]``."""
        return self.predict(X)

    def action_std(self, X: Any) -> np.ndarray | None:
        """The teacher's per-dimension std ``[n, m]`` (float32, ≥ 0) or ``None`` when it has none."""
        if self._std_fn is None:
            return None
        states = self._states(X)
        out = self._std_fn(states)
        if out is None:  # an adapted object whose action_std exists but has nothing to say
            return None
        S = validate_actions(out, len(states), self.n_actions, self.identity, "action std")
        if (S < 0).any():
            raise TeacherError(f"teacher {self.identity!r} returned a negative std at row {int(np.argwhere(S < 0)[0][0])}")
        return S

    def predict_proba(self, X: Any) -> np.ndarray:
        """Not defined for continuous actions; raises ``TeacherError`` saying what to use."""
        raise TeacherError(f"teacher {self.identity!r} acts with continuous actions and has no action probabilities; use predict(X) for its actions")

    def q_values(self, X: Any) -> None:
        """Continuous teachers expose no Q-table."""
        return None

    def log_proba(self, X: Any) -> None:
        """Continuous teachers expose no probability table."""
        return None


def validate_actions(out: Any, n_states: int, n_actions: int, identity: str, what: str = "actions") -> np.ndarray:
    """Check a continuous teacher's output and return it as float32 ``[n_states, n_actions]``."""
    try:
        A = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise TeacherError(f"teacher {identity!r} returned non-numeric {what} ({e}); return an array [n, m]") from None
    if A.ndim == 1 and n_actions == 1 and A.shape[0] == n_states:
        A = A[:, None]  # one action dimension returned flat
    if A.shape != (n_states, n_actions):
        raise TeacherError(
            f"teacher {identity!r} returned {what} of shape {A.shape} for {n_states} states; expected "
            f"[{n_states}, {n_actions}] (one value per action dimension per state)"
        )
    bad = ~np.isfinite(A)
    if bad.any():
        raise TeacherError(
            f"teacher {identity!r} returned NaN or infinity in its {what} at row {int(np.argwhere(bad)[0][0])}; check the teacher's input scaling"
        )
    return A


def box_bounds(action_space: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` of a gymnasium ``Box`` or a ``(low, high)`` pair."""
    from gymnasium import spaces

    if isinstance(action_space, spaces.Box):
        return action_space.low.reshape(-1), action_space.high.reshape(-1)
    if isinstance(action_space, (tuple, list)) and len(action_space) == 2:
        return np.asarray(action_space[0], np.float32).reshape(-1), np.asarray(action_space[1], np.float32).reshape(-1)
    raise TeacherError(f"action_space must be a gymnasium Box or a (low, high) pair; got {action_space!r}")


def is_continuous(obj: Any, action_space: Any = None) -> bool:
    """Whether ``obj`` (with an optional ``action_space``) is a continuous-action teacher."""
    from gymnasium import spaces

    from hybrid.teachers.base import is_sb3_model

    if action_space is not None:
        return not isinstance(action_space, spaces.Discrete)
    if getattr(obj, "action_kind", None) == "continuous":
        return True
    return is_sb3_model(obj) and isinstance(obj.action_space, spaces.Box)


def continuous_teacher(obj: Any, action_names: Sequence[str] | None, feature_names: Sequence[str] | None, action_space: Any) -> ContinuousTeacher:
    """Adapt ``obj`` (see the module docstring for what is accepted) into a ``ContinuousTeacher``."""
    from hybrid.teachers.base import _linear_macs, _module_hash, is_sb3_model

    if isinstance(obj, ContinuousTeacher):
        return obj
    if getattr(obj, "action_kind", "continuous") != "continuous" or _is_discrete(obj):
        raise DataError(
            f"the environment takes continuous actions in a Box {action_space} but {type(obj).__name__} chooses among "
            "discrete actions (Discrete action spaces); use a continuous teacher (SAC/TD3/PPO with Box actions, or a "
            "callable X -> actions) or an environment with a Discrete action space"
        )
    if is_sb3_model(obj):
        return _sb3_continuous(obj, action_names, feature_names)
    if action_space is not None:
        low, high = box_bounds(action_space)
    elif getattr(obj, "action_low", None) is not None:
        low, high = obj.action_low, obj.action_high
    else:
        raise TeacherError(f"{type(obj).__name__} declares continuous actions but no bounds; pass as_teacher(obj, action_space=env.action_space)")
    names = action_names or getattr(obj, "action_names", None)
    features = feature_names or getattr(obj, "feature_names", None)
    identity = getattr(obj, "identity", None) or type(obj).__name__
    if getattr(obj, "env_id", None):
        identity = f"{obj.env_id}:{type(obj).__name__}"
    std = getattr(obj, "action_std", None)
    std_fn = std if callable(std) else None
    ops = getattr(obj, "ops_per_decision", None)
    content_hash = getattr(obj, "content_hash", None)
    from torch import nn

    predict = getattr(obj, "predict", None)
    if callable(predict):
        fn: ArrayFn = predict
        if ops is None and callable(getattr(obj, "cost", None)):
            ops = obj.cost().ops_per_decision
    elif isinstance(obj, nn.Module):
        import torch

        obj.eval()

        def fn(X: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return obj(torch.from_numpy(X)).float().numpy()

        ops = _linear_macs(obj) if ops is None else ops
        content_hash = content_hash or _module_hash(obj)
    elif callable(obj):
        fn = obj
        identity = getattr(obj, "__name__", identity)
    else:
        raise TeacherError(
            f"cannot use a {type(obj).__name__} as a continuous teacher; pass a callable X[n, d] -> "
            "A[n, m], a torch module returning actions, or an SB3 model with a Box action space"
        )
    return ContinuousTeacher(
        fn,
        low,
        high,
        names,
        feature_names=features,
        std_fn=std_fn,
        ops_per_decision=ops if isinstance(ops, (int, float)) else None,
        identity=identity,
        content_hash=content_hash,
    )


def _is_discrete(obj: Any) -> bool:
    """Whether ``obj`` is plainly a discrete-action teacher (a ``Teacher``, a zoo ``PolicyTeacher``,
    an SB3 model with a ``Discrete`` space, or anything offering ``predict_proba``)."""
    from gymnasium import spaces

    from hybrid.teachers.base import Teacher, is_sb3_model
    from hybrid.teachers.zoo import PolicyTeacher

    if isinstance(obj, (Teacher, PolicyTeacher)) or callable(getattr(obj, "predict_proba", None)):
        return True
    return is_sb3_model(obj) and isinstance(obj.action_space, spaces.Discrete)


def _sb3_continuous(model: Any, action_names: Sequence[str] | None, feature_names: Sequence[str] | None) -> ContinuousTeacher:
    """SB3 SAC/TD3/DDPG (squashed actors) and PPO/A2C (Gaussian policies) with a Box action space."""
    import torch

    from hybrid.teachers.base import _linear_macs, _module_hash

    policy = model.policy
    policy.set_training_mode(False)
    low, high = model.action_space.low.reshape(-1), model.action_space.high.reshape(-1)
    name = type(model).__name__

    def act(X: np.ndarray) -> np.ndarray:
        return np.asarray(policy.predict(X, deterministic=True)[0], dtype=np.float32).reshape(len(X), -1)

    std_fn: ArrayFn | None = None
    actor = getattr(policy, "actor", None)
    if actor is not None:  # SAC, TD3, DDPG
        mean = actor.mu[0] if isinstance(actor.mu, torch.nn.Sequential) else actor.mu
        hidden = getattr(actor, "latent_pi", None)
        ops = _linear_macs(actor) if hidden is None else _linear_macs(hidden) + _linear_macs(mean)
        if hasattr(actor, "get_action_dist_params") and not getattr(actor, "use_sde", False):

            def std_fn(X: np.ndarray) -> np.ndarray:  # tanh-squashed Gaussian: std carried to first order
                with torch.no_grad():
                    mu, log_std, _ = actor.get_action_dist_params(policy.obs_to_tensor(X)[0])
                    std = torch.exp(log_std) * (1 - torch.tanh(mu) ** 2) * torch.from_numpy((high - low) / 2)
                return std.float().numpy()
    else:  # PPO, A2C: Gaussian mean, SB3 clips it to the bounds before stepping
        ops = _linear_macs(policy.mlp_extractor.policy_net) + _linear_macs(policy.action_net)
        if not getattr(policy, "use_sde", False):

            def std_fn(X: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    return policy.get_distribution(policy.obs_to_tensor(X)[0]).distribution.stddev.float().numpy()

    return ContinuousTeacher(
        act,
        low,
        high,
        action_names,
        feature_names=feature_names,
        std_fn=std_fn,
        ops_per_decision=ops,
        identity=f"sb3:{name}",
        content_hash=_module_hash(policy),
    )


def continuous_weights(teacher: Any, X: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
    """Per-state importance for continuous actions, normalised to mean 1, and its source.

    States where the teacher is sure of its action (small std relative to each dimension's
    range) weigh more: ``1 / (mean_j std_j / range_j + STD_FLOOR)``. Any ``kind`` ("q",
    "margin", "std") uses the std, the only certainty signal a continuous policy gives.
    """
    if kind not in ("q", "margin", "std"):
        raise DataError(f"weighting must be None, 'q', 'margin' or 'std'; got {kind!r}")
    std = teacher.action_std(X)
    if std is None:
        raise DataError(f"teacher {teacher.identity!r} has no action std, so states cannot be weighted by its certainty; use weighting=None")
    rel = (std / (teacher.action_high - teacher.action_low)).mean(axis=1)
    w = 1.0 / (rel + STD_FLOOR)
    return (w / w.mean()).astype(np.float32), "std"
