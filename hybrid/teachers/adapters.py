"""``as_teacher``: one registry that turns anything that decides into a validated ``Teacher``.

``TEACHER_KINDS`` is an ordered table of the kinds of object a teacher can be; each entry says
how it recognises an object and, per kind of action space, how it adapts it:

============================  ==========================================  ==========================================
kind                          discrete actions (``DiscreteActions``)        Box actions (``BoxActions``)
============================  ==========================================  ==========================================
``Teacher``                   as is (``LLMTeacher``, ``MixtureTeacher``)   as is (``ContinuousTeacher``, mixtures)
stable-baselines3 model       PPO/A2C probabilities, DQN softmax(Q / T)   SAC/TD3/DDPG/PPO/A2C deterministic action
object predicting actions     —                                           ``predict(X)`` (zoo ``ContinuousPolicyTeacher``)
object with ``predict_proba`` its probabilities (zoo ``PolicyTeacher``)   —
torch ``nn.Module``           softmax of its logits                       its output, as actions
seed-style ``act`` object     ``act(state) -> {action: p}``, batched      —
batch callable                ``f(X[n, d]) -> P[n, k]``                    ``f(X[n, d]) -> A[n, m]``
============================  ==========================================  ==========================================

The action space given (``action_space=``: a gymnasium space, an ``ActionSpace`` or a
``(low, high)`` pair) or read from the object (``hybrid.spaces.action_space_of``) decides which
column applies; an object that acts in the other kind of space is refused, naming the fix.
Adding a kind of teacher is one entry (stable-baselines3 models are adapted in
``hybrid.teachers.sb3``). torch, gymnasium and stable-baselines3 are imported only when an object
needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid.data.dataset import check_names as _names
from hybrid.errors import DataError, HybridError, TeacherError
from hybrid.spaces import ActionSpace, BoxActions, DiscreteActions, action_space_of
from hybrid.teachers.base import ContinuousTeacher, Teacher
from hybrid.teachers.sb3 import is_sb3_model, linear_macs, module_hash, sb3_box, sb3_discrete


@dataclass(frozen=True)
class Request:
    """What ``as_teacher`` was asked for: names, features, DQN temperature and the action space
    (``space``; ``given`` is the ``action_space`` argument as passed, for messages)."""

    action_names: tuple[str, ...] | None
    feature_names: Sequence[str] | None
    temperature: float
    space: ActionSpace | None
    given: Any

    def bounds(self, obj: Any) -> tuple[np.ndarray, np.ndarray]:
        """The Box bounds the teacher acts within."""
        if not isinstance(self.space, BoxActions):
            raise TeacherError(f"{type(obj).__name__} declares continuous actions but no bounds; pass as_teacher(obj, action_space=env.action_space)")
        return self.space.low, self.space.high


Adapter = Callable[[Any, Request], Teacher]


@dataclass(frozen=True)
class TeacherKind:
    """One kind of teacher object: how to recognise it and how to adapt it per action-space class."""

    name: str
    recognises: Callable[[Any], bool]
    adapters: Mapping[type[ActionSpace], Adapter]


def _method(obj: Any, name: str) -> Callable[..., Any] | None:
    m = getattr(obj, name, None)
    return m if callable(m) else None


def _identity(obj: Any) -> str:
    own = getattr(obj, "identity", None)
    if own:
        return str(own)
    return f"{obj.env_id}:{type(obj).__name__}" if getattr(obj, "env_id", None) else type(obj).__name__


def _ops(obj: Any) -> float | None:
    """An object's multiply-adds per decision: its own figure, else its fitted cost, else ``None``."""
    ops = getattr(obj, "ops_per_decision", None)
    if ops is None and _method(obj, "cost") is not None:
        try:
            ops = obj.cost().ops_per_decision
        except HybridError:  # an unfitted student cannot count its cost; the teacher works without it
            ops = None
    return float(ops) if isinstance(ops, (int, float)) else None


# -- Teacher -----------------------------------------------------------------------------------
def _as_is(teacher: Teacher, request: Request) -> Teacher:
    if request.space is not None and not isinstance(request.space, teacher.space_type):
        raise _mismatch(teacher, request)
    return teacher


# -- objects with predict / predict_proba --------------------------------------------------------
def _actions_object(obj: Any, request: Request) -> Teacher:
    """An object whose ``predict(X)`` returns actions (a zoo ``ContinuousPolicyTeacher``, a continuous
    student); its ``action_values(X, A)`` is the critic, unless ``has_critic`` says it has none."""
    low, high = request.bounds(obj)
    std = getattr(obj, "action_std", None)
    critic = _method(obj, "action_values") if getattr(obj, "has_critic", True) else None
    return ContinuousTeacher(
        obj.predict,
        low,
        high,
        request.action_names or getattr(obj, "action_names", None),
        feature_names=request.feature_names or getattr(obj, "feature_names", None),
        std_fn=std if callable(std) else None,
        critic_fn=critic,
        ops_per_decision=_ops(obj),
        identity=_identity(obj),
        content_hash=getattr(obj, "content_hash", None),
    )


def _proba_object(obj: Any, request: Request) -> Teacher:
    """An object with ``predict_proba`` (a zoo teacher, a student, a scikit-learn classifier)."""
    return Teacher(
        obj.predict_proba,
        request.action_names or getattr(obj, "action_names", None),
        feature_names=request.feature_names or getattr(obj, "feature_names", None),
        ops_per_decision=_ops(obj),
        q_fn=_method(obj, "q_values"),
        log_proba_fn=_method(obj, "log_proba"),
        identity=_identity(obj),
        content_hash=getattr(obj, "content_hash", None),
    )


# -- torch modules -------------------------------------------------------------------------------
def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.") and c.__name__ == "Module" for c in type(obj).__mro__)


def _module_output(module: Any, what: str) -> Callable[[np.ndarray], Any]:
    import torch

    module.eval()

    def forward(X: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(X)))
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise TeacherError(f"{type(module).__name__}.forward must return {what} [n, k]; got {getattr(out, 'shape', type(out))}")
        return out.float()

    return forward


def _torch_logits(module: Any, request: Request) -> Teacher:
    """A module returning logits: its softmax; its ``nn.Linear`` multiply-adds are ``ops_per_decision``."""
    import torch

    logits = _module_output(module, "logits")
    return Teacher(
        lambda X: torch.softmax(logits(X), dim=1).numpy(),
        request.action_names or getattr(module, "action_names", None),
        feature_names=request.feature_names or getattr(module, "feature_names", None),
        ops_per_decision=linear_macs(module),
        log_proba_fn=lambda X: torch.log_softmax(logits(X), dim=1).numpy(),
        identity=_identity(module),
        content_hash=getattr(module, "content_hash", None) or module_hash(module),
    )


def _torch_actions(module: Any, request: Request) -> Teacher:
    """A module returning actions ``[n, m]``, clipped to the Box."""
    low, high = request.bounds(module)
    actions = _module_output(module, "actions")
    return ContinuousTeacher(
        lambda X: actions(X).numpy(),
        low,
        high,
        request.action_names or getattr(module, "action_names", None),
        feature_names=request.feature_names or getattr(module, "feature_names", None),
        ops_per_decision=linear_macs(module) if _ops(module) is None else _ops(module),
        identity=_identity(module),
        content_hash=getattr(module, "content_hash", None) or module_hash(module),
    )


# -- seed-style act() and batch callables ---------------------------------------------------------
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
            named = {str(a): p for a, p in probs.items()}  # integer keys (0, 1) name actions "0", "1"
            if len(named) != len(probs):
                raise TeacherError(
                    f"act() returned keys {list(probs)} for row {i} that name the same action twice once written as text; use one key per action"
                )
            probs = named
            if self.action_names is None:
                self.action_names = _names(list(probs), "act() keys")
                out = np.empty((len(X), len(self.action_names)), dtype=np.float64)
            if probs.keys() != set(self.action_names):
                raise TeacherError(
                    f"act() returned actions {sorted(probs)} for row {i} but the teacher's actions are "
                    f"{list(self.action_names)}; return every action each time (probability 0 when unavailable)"
                )
            try:
                out[i] = [float(probs[a]) for a in self.action_names]
            except (TypeError, ValueError) as e:
                raise TeacherError(f"act() returned a non-numeric probability for row {i}: {e}") from None
        return out


def _act_object(obj: Any, request: Request) -> Teacher:
    names = request.action_names
    return Teacher(_ActProba(obj.act, names), names, feature_names=request.feature_names, identity=type(obj).__name__)


def _batch_proba(fn: Any, request: Request) -> Teacher:
    return Teacher(
        fn,
        request.action_names,
        feature_names=request.feature_names,
        ops_per_decision=_ops(fn),
        identity=getattr(fn, "__name__", type(fn).__name__),
        content_hash=getattr(fn, "content_hash", None),
    )


def _batch_actions(fn: Any, request: Request) -> Teacher:
    low, high = request.bounds(fn)
    return ContinuousTeacher(
        fn,
        low,
        high,
        request.action_names or getattr(fn, "action_names", None),
        feature_names=request.feature_names or getattr(fn, "feature_names", None),
        std_fn=_method(fn, "action_std"),
        ops_per_decision=_ops(fn),
        identity=getattr(fn, "__name__", _identity(fn)),
        content_hash=getattr(fn, "content_hash", None),
    )


TEACHER_KINDS: tuple[TeacherKind, ...] = (
    TeacherKind("teacher", lambda obj: isinstance(obj, Teacher), {DiscreteActions: _as_is, BoxActions: _as_is}),
    TeacherKind("stable-baselines3 model", is_sb3_model, {DiscreteActions: sb3_discrete, BoxActions: sb3_box}),
    TeacherKind(
        "object predicting actions", lambda obj: _method(obj, "predict") is not None and _method(obj, "predict_proba") is None, {BoxActions: _actions_object}
    ),
    TeacherKind("object with predict_proba", lambda obj: _method(obj, "predict_proba") is not None, {DiscreteActions: _proba_object}),
    TeacherKind("torch module", _is_torch_module, {DiscreteActions: _torch_logits, BoxActions: _torch_actions}),
    TeacherKind("seed-style act()", lambda obj: _method(obj, "act") is not None, {DiscreteActions: _act_object}),
    TeacherKind("batch callable", callable, {DiscreteActions: _batch_proba, BoxActions: _batch_actions}),
)

_NOTHING_FITS = {
    DiscreteActions: "teacher; pass a callable X[n, d] -> probabilities [n, k], an object with predict_proba or act(state) -> {action: p}, "
    "a torch module returning logits, or an SB3 PPO/A2C/DQN model",
    BoxActions: "continuous teacher; pass a callable X[n, d] -> A[n, m], a torch module returning actions, or an SB3 model with a Box action space",
}
_WRONG_KIND = {
    DiscreteActions: "the environment takes discrete actions ({space}) but {obj} outputs continuous actions; use a teacher that chooses "
    "among the discrete actions or an environment with a Box action space",
    BoxActions: "the environment takes continuous actions in a Box {space} but {obj} chooses among discrete actions (Discrete action "
    "spaces); use a continuous teacher (SAC/TD3/PPO with Box actions, or a callable X -> actions) or an environment with a Discrete "
    "action space",
}


def _mismatch(obj: Any, request: Request) -> DataError:
    assert request.space is not None
    space = request.given if request.given is not None else request.space
    return DataError(_WRONG_KIND[type(request.space)].format(space=space, obj=type(obj).__name__))


def _given_space(action_space: Any) -> ActionSpace | None:
    """The ``action_space`` argument as an ``ActionSpace``: a gymnasium space, one already, or ``(low, high)``."""
    if action_space is None:
        return None
    try:
        if isinstance(action_space, (tuple, list)) and len(action_space) == 2:
            return BoxActions(None, *action_space)
        return action_space_of(action_space)
    except DataError:
        raise TeacherError(
            f"action_space must be a gymnasium Discrete, a Box with finite bounds (high > low in every dimension) or a (low, high) pair; got {action_space!r}"
        ) from None


def _own_space(obj: Any) -> ActionSpace | None:
    """The action space an object declares (an SB3 model's, a zoo teacher's), or ``None``."""
    if isinstance(obj, Teacher) or getattr(obj, "action_space", None) is None:
        return None  # a Teacher answers for itself (a batch callable names its actions late)
    return action_space_of(obj)


def as_teacher(
    obj: Any,
    action_names: Sequence[str] | None = None,
    *,
    feature_names: Sequence[str] | None = None,
    temperature: float = 1.0,
    action_space: Any = None,
) -> Teacher:
    """Adapt ``obj`` into a validated ``Teacher`` of discrete or Box actions.

    The first entry of ``TEACHER_KINDS`` (see the module docstring) that recognises ``obj`` and
    adapts its kind of action space answers. The space is ``action_space`` when given, else the
    one ``obj`` declares, else discrete. A seed-style ``act`` is called with one state as a 1-D
    float32 array (its keys become ``action_names`` in first-seen order and stay fixed); a DQN's
    probabilities are the softmax of its Q-values / ``temperature``.
    """
    names = None if action_names is None else _names(action_names, "action_names")
    given = _given_space(action_space)
    own = _own_space(obj)
    space = given or own
    request = Request(names, feature_names, temperature, space, action_space)
    if given is not None and own is not None and type(own) is not type(given):
        raise _mismatch(obj, request)
    wanted = DiscreteActions if space is None else type(space)
    recognised = [kind for kind in TEACHER_KINDS if kind.recognises(obj)]
    for kind in recognised:
        adapter = kind.adapters.get(wanted)
        if adapter is not None:
            return adapter(obj, request)
    if recognised and space is not None:
        raise _mismatch(obj, request)
    raise TeacherError(f"cannot use a {type(obj).__name__} as a {_NOTHING_FITS[wanted]}")
