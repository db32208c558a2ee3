"""Teachers: anything that maps states to action probabilities, behind one validated interface.

``as_teacher`` adapts a batch callable, a seed-style ``act(state) -> {action: p}`` object, a
torch ``nn.Module`` returning logits, any object with ``predict_proba`` (a zoo teacher, a
student, a scikit-learn classifier) and stable-baselines3 PPO/A2C/DQN models into a
``Teacher``. Every call is checked: a teacher that returns a wrong shape, NaN/inf, negative
values or rows not summing to 1 (within ``hybrid.validation.PROBA_TOLERANCE``) raises ``TeacherError`` naming the row and the
fix, so bad labels never reach a dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid.data.dataset import check_names as _names
from hybrid.errors import DataError, HybridError, TeacherError
from hybrid.spaces import ActionSpace, DiscreteActions
from hybrid.validation import probability_problem, teacher_states
from provenance.hashing import hash_array, hash_json

if TYPE_CHECKING:
    from hybrid.teachers._box import ContinuousTeacher


ArrayFn = Callable[[np.ndarray], np.ndarray]


class Teacher:
    """A validated teacher: ``predict_proba(X[n, d]) -> float32 [n, k]`` plus ``action_names``.

    Optional signals: ``q_values(X)`` (DQN-style teachers) and ``log_proba(X)`` (policy-gradient
    teachers) return ``None`` when the teacher has no such output; ``ops_per_decision`` is the
    teacher's multiply-adds per decision when countable, else ``None``. ``identity`` names the
    teacher in logs; ``content_hash`` is the ``sha256:…`` of its weights when it has any.
    """

    def __init__(
        self,
        proba_fn: ArrayFn,
        action_names: Sequence[str] | None = None,
        *,
        feature_names: Sequence[str] | None = None,
        ops_per_decision: float | None = None,
        q_fn: ArrayFn | None = None,
        log_proba_fn: ArrayFn | None = None,
        identity: str = "teacher",
        content_hash: str | None = None,
    ) -> None:
        self._proba_fn = proba_fn
        self._action_names = None if action_names is None else _names(action_names, "action_names")
        self.feature_names = None if feature_names is None else _names(feature_names, "feature_names")
        self.ops_per_decision = None if ops_per_decision is None else float(ops_per_decision)
        self._q_fn = q_fn
        self._log_proba_fn = log_proba_fn
        self.identity = identity
        self.content_hash = content_hash

    def __repr__(self) -> str:
        return f"Teacher({self.identity!r}, actions={self._action_names})"

    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the actions, in column order of ``predict_proba``."""
        if self._action_names is None:
            names = getattr(self._proba_fn, "action_names", None)
            if names is None:
                raise TeacherError(f"teacher {self.identity!r} has not named its actions yet; pass action_names=[...] to as_teacher or call predict_proba once")
            self._action_names = _names(names, "action_names")
        return self._action_names

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def action_space(self) -> ActionSpace:
        """The teacher's actions: ``DiscreteActions`` of its action names."""
        return DiscreteActions(self.action_names)

    def _states(self, X: Any) -> np.ndarray:
        return teacher_states(X, self.feature_names, self.identity, copy=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Action probabilities, validated: float32 ``[n, k]``, finite, ≥ 0, rows summing to 1."""
        states = self._states(X)
        out = self._proba_fn(states)
        if self._action_names is None and getattr(self._proba_fn, "action_names", None) is None:
            shape = np.shape(out)
            if len(shape) != 2:
                raise TeacherError(f"teacher {self.identity!r} returned shape {shape}; expected [n_states, n_actions] probabilities")
            self._action_names = tuple(f"action_{i}" for i in range(shape[1]))
        return validate_proba(out, len(states), self.n_actions, self.identity)

    def predict(self, X: Any) -> np.ndarray:
        """Greedy actions: index of the most probable action of each state (int64)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def targets(self, X: Any) -> np.ndarray:
        """What a dataset keeps of the teacher's decisions: its action probabilities ``[n, k]``."""
        return self.predict_proba(X)

    def action_std(self, X: Any) -> np.ndarray | None:
        """A discrete teacher has no spread per action dimension."""
        return None

    def q_values(self, X: Any) -> np.ndarray | None:
        """Q-values ``[n, k]`` (float32) when the teacher exposes them, else ``None``."""
        return None if self._q_fn is None else _finite(self._q_fn(self._states(X)), "Q-values", self.identity)

    def log_proba(self, X: Any) -> np.ndarray | None:
        """Log-probabilities ``[n, k]`` (float32) when the teacher exposes them, else ``None``."""
        if self._log_proba_fn is None:
            return None
        return np.asarray(self._log_proba_fn(self._states(X)), dtype=np.float32)


def validate_proba(out: Any, n_states: int, n_actions: int, identity: str = "teacher") -> np.ndarray:
    """Check a teacher's output and return it as float32 ``[n_states, n_actions]``."""
    try:
        P = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise TeacherError(f"teacher {identity!r} returned non-numeric output ({e}); return an array [n, k] of probabilities") from None
    if P.shape != (n_states, n_actions):
        raise TeacherError(
            f"teacher {identity!r} returned shape {P.shape} for {n_states} states; expected [{n_states}, {n_actions}] (one probability per action per state)"
        )
    problem = probability_problem(P)
    if problem is not None:
        raise TeacherError(
            f"teacher {identity!r} output {problem}; return probabilities: check its input scaling, and softmax the logits or divide by the row sum"
        )
    return P


def _finite(out: Any, what: str, identity: str) -> np.ndarray:
    a = np.asarray(out, dtype=np.float32)
    if not np.isfinite(a).all():
        row = int(np.argwhere(~np.isfinite(a))[0][0])
        raise TeacherError(f"teacher {identity!r} returned non-finite {what} at row {row}")
    return a


class _ActProba:
    """Batches a seed-style ``act(state) -> {action: p}``; action order is fixed at the first call."""

    def __init__(self, act: Callable[[np.ndarray], Mapping[str, float]], action_names: tuple[str, ...] | None) -> None:
        self.act = act
        self.action_names = action_names

    def __call__(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((len(X), 0 if self.action_names is None else len(self.action_names)), dtype=np.float64)
        for i, state in enumerate(X):
            probs = self.act(state)
            if not isinstance(probs, Mapping):
                raise TeacherError(f"act() returned {type(probs).__name__} for row {i}; return a dict {{action_name: probability}}")
            if self.action_names is None:
                self.action_names = _names(list(probs), "act() keys")
                out = np.empty((len(X), len(self.action_names)), dtype=np.float64)
            if probs.keys() != set(self.action_names):
                raise TeacherError(
                    f"act() returned actions {sorted(map(str, probs))} for row {i} but the teacher's actions are "
                    f"{list(self.action_names)}; return every action each time (probability 0 when unavailable)"
                )
            try:
                out[i] = [float(probs[a]) for a in self.action_names]
            except (TypeError, ValueError) as e:
                raise TeacherError(f"act() returned a non-numeric probability for row {i}: {e}") from None
        return out


def _linear_macs(module: Any) -> int:
    """Multiply-adds of every ``nn.Linear`` in a module: ``in * out`` summed."""
    from torch import nn

    return sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def _module_hash(module: Any) -> str:
    return hash_json({k: hash_array(v.detach().cpu().numpy()) for k, v in module.state_dict().items()})


def _torch_teacher(module: Any, action_names: Sequence[str] | None, feature_names: Sequence[str] | None) -> Teacher:
    import torch

    def logits(X: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(X)))
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise TeacherError(f"{type(module).__name__}.forward must return logits [n, k]; got {getattr(out, 'shape', type(out))}")
        return out.float()

    module.eval()
    env_id = getattr(module, "env_id", None)
    return Teacher(
        lambda X: torch.softmax(logits(X), dim=1).numpy(),
        action_names or getattr(module, "action_names", None),
        feature_names=feature_names or getattr(module, "feature_names", None),
        ops_per_decision=_linear_macs(module),
        log_proba_fn=lambda X: torch.log_softmax(logits(X), dim=1).numpy(),
        identity=f"{env_id}:{type(module).__name__}" if env_id else type(module).__name__,
        content_hash=getattr(module, "content_hash", None) or _module_hash(module),
    )


def is_sb3_model(obj: Any) -> bool:
    """Whether ``obj`` is a stable-baselines3 model (checked by class module: no sb3 import)."""
    return any(c.__module__.startswith("stable_baselines3.") for c in type(obj).__mro__)


def _sb3_teacher(model: Any, action_names: Sequence[str] | None, feature_names: Sequence[str] | None, temperature: float) -> Teacher:
    import torch
    from gymnasium import spaces
    from stable_baselines3 import DQN  # sb3 only imported when an SB3 model is passed

    if not isinstance(model.action_space, spaces.Discrete):
        raise TeacherError(f"{type(model).__name__} has action space {model.action_space}; pass a Discrete or Box action space")
    policy = model.policy
    policy.set_training_mode(False)
    name = type(model).__name__

    def obs(X: np.ndarray) -> torch.Tensor:
        return policy.obs_to_tensor(X)[0]

    if isinstance(model, DQN):
        if temperature <= 0:
            raise TeacherError(f"temperature must be > 0 for a DQN teacher; got {temperature}")

        def q(X: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model.q_net(obs(X)).float().numpy()

        proba = lambda X: torch.softmax(torch.from_numpy(q(X)) / temperature, dim=1).numpy()  # noqa: E731
        log_proba = lambda X: torch.log_softmax(torch.from_numpy(q(X)) / temperature, dim=1).numpy()  # noqa: E731
        q_fn, ops = q, _linear_macs(model.q_net)
    else:
        if not hasattr(policy, "get_distribution"):
            raise TeacherError(f"{name} has no action distribution; pass a PPO, A2C or DQN model")

        def dist(X: np.ndarray) -> Any:
            with torch.no_grad():
                return policy.get_distribution(obs(X)).distribution

        proba = lambda X: dist(X).probs.float().numpy()  # noqa: E731
        log_proba = lambda X: dist(X).logits.float().numpy()  # noqa: E731  (Categorical logits are normalised)
        q_fn = None
        ops = _linear_macs(policy.mlp_extractor.policy_net) + _linear_macs(policy.action_net)
    n = int(model.action_space.n)
    return Teacher(
        proba,
        action_names or tuple(f"action_{i}" for i in range(n)),
        feature_names=feature_names,
        ops_per_decision=ops,
        q_fn=q_fn,
        log_proba_fn=log_proba,
        identity=f"sb3:{name}",
        content_hash=_module_hash(policy),
    )


def _method(obj: Any, name: str) -> Callable[..., Any] | None:
    m = getattr(obj, name, None)
    return m if callable(m) else None


def _proba_object_teacher(obj: Any, action_names: Sequence[str] | None, feature_names: Sequence[str] | None) -> Teacher:
    ops = getattr(obj, "ops_per_decision", None)
    if ops is None and _method(obj, "cost") is not None:
        try:
            ops = obj.cost().ops_per_decision
        except HybridError:  # an unfitted student cannot count its cost; the teacher works without it
            ops = None
    return Teacher(
        obj.predict_proba,
        action_names or getattr(obj, "action_names", None),
        feature_names=feature_names or getattr(obj, "feature_names", None),
        ops_per_decision=ops if isinstance(ops, (int, float)) else None,
        q_fn=_method(obj, "q_values"),
        log_proba_fn=_method(obj, "log_proba"),
        identity=getattr(obj, "identity", None) or (f"{obj.env_id}:{type(obj).__name__}" if getattr(obj, "env_id", None) else type(obj).__name__),
        content_hash=getattr(obj, "content_hash", None),
    )


def as_teacher(
    obj: Any,
    action_names: Sequence[str] | None = None,
    *,
    feature_names: Sequence[str] | None = None,
    temperature: float = 1.0,
    action_space: Any = None,
) -> Teacher | ContinuousTeacher:
    """Adapt ``obj`` into a validated ``Teacher`` (discrete) or ``ContinuousTeacher``.

    Continuous first: an SB3 model with a ``Box`` action space, an object declaring
    ``action_kind = "continuous"``, or anything given ``action_space=Box(...)`` becomes a
    ``ContinuousTeacher`` (see ``hybrid.teachers._box``). Otherwise, for discrete actions:

    Tried in order: a ``Teacher`` (returned as is); a stable-baselines3 PPO/A2C (action
    distribution probabilities) or DQN (softmax of Q-values / ``temperature``, Q-values exposed);
    an object with ``predict_proba``; a torch ``nn.Module`` returning logits (softmax; its
    ``nn.Linear`` multiply-adds are ``ops_per_decision``); an object with a seed-style
    ``act(state) -> {action: p}``, called with one state as a 1-D float32 array (keys become
    ``action_names`` in first-seen order and stay fixed); a batch callable ``f(X[n, d]) -> [n, k]``.
    """
    from hybrid.teachers._box import continuous_teacher, is_continuous

    names = None if action_names is None else _names(action_names, "action_names")
    if is_continuous(obj, action_space):
        return continuous_teacher(obj, names, feature_names, action_space)
    if isinstance(obj, Teacher) or getattr(obj, "state_kind", None) == "record":  # e.g. hybrid.teachers.llm.LLMTeacher
        return obj
    if is_sb3_model(obj):
        return _sb3_teacher(obj, names, feature_names, temperature)
    if _method(obj, "predict_proba") is not None:
        return _proba_object_teacher(obj, names, feature_names)
    from torch import nn

    if isinstance(obj, nn.Module):
        return _torch_teacher(obj, names, feature_names)
    act = _method(obj, "act")
    if act is not None:
        return Teacher(_ActProba(act, names), names, feature_names=feature_names, identity=type(obj).__name__)
    if callable(obj):
        return Teacher(obj, names, feature_names=feature_names, identity=getattr(obj, "__name__", type(obj).__name__))
    raise TeacherError(
        f"cannot use a {type(obj).__name__} as a teacher; pass a callable X[n, d] -> probabilities [n, k], an object "
        "with predict_proba or act(state) -> {action: p}, a torch module returning logits, or an SB3 PPO/A2C/DQN model"
    )


def state_weights(teacher: Teacher, X: np.ndarray, P: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
    """VIPER-style importance of each state, normalised to mean 1, and the signal it came from.

    ``kind="q"``: the gap ``max_a Q - min_a Q`` (how much a wrong action costs there); teachers
    without Q-values fall back to log-probabilities (policy-gradient stand-in), then to the
    margin. ``kind="margin"``: top-1 minus top-2 probability.
    """
    if kind not in ("q", "margin"):
        raise DataError(f"weighting must be None, 'q' or 'margin'; got {kind!r}")
    source, scores = "margin", None
    if kind == "q":
        for source in ("q_values", "log_proba"):
            scores = getattr(teacher, source)(X)
            if scores is not None:
                break
    if scores is None:
        source, scores = "margin", P
    top2 = np.sort(np.asarray(scores, dtype=np.float64), axis=1)
    gap = top2[:, -1] - (top2[:, -2] if source == "margin" else top2[:, 0])
    mean = gap.mean() if len(gap) else 0.0
    if not mean > 0:
        raise DataError(f"the teacher's {source} gap is 0 on every state, so no state would count; use weighting=None")
    return (gap / mean).astype(np.float32), source
