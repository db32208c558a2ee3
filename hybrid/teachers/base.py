"""Teachers: anything that maps states to decisions, behind one validated contract for both kinds.

A ``Teacher`` acts in an ``ActionSpace`` (``hybrid.spaces``): ``DiscreteActions`` — its targets
are action probabilities ``[n, k]`` — or ``BoxActions`` — its targets are bounded action vectors
``[n, m]``, optionally with a per-dimension std. Every teacher answers ``predict(X)`` (greedy
actions), ``targets(X)`` (what a dataset keeps), ``action_std(X)`` (``None`` for discrete
actions), ``predict_proba(X)`` (discrete only), ``q_values(X)``, ``log_proba(X)`` and, for Box
actions, ``action_values(X, A)`` (a critic's Q of chosen actions) — ``None`` when it has no such
output. ``ContinuousTeacher`` is the same contract built from an action
function and a ``Box``'s bounds.

Every call is checked: a wrong shape, NaN/inf, negative probabilities or rows not summing to 1
(within ``hybrid.validation.PROBA_TOLERANCE``) raise ``TeacherError`` naming the row and the fix,
so bad labels never reach a dataset; actions are clipped to their bounds, as stable-baselines3
clips before stepping. ``hybrid.teachers.adapters.as_teacher`` turns other objects into teachers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from hybrid.data.dataset import check_names as _names
from hybrid.errors import DataError, TeacherError
from hybrid.spaces import ActionSpace, BoxActions, DiscreteActions
from hybrid.validation import probability_problem, teacher_states

ArrayFn = Callable[[np.ndarray], np.ndarray]
CriticFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (states [n, d], actions [n, m]) -> Q [n]
STD_FLOOR = 1e-3  # relative std below which a teacher counts as fully certain (keeps weights finite)


class Teacher:
    """A validated teacher: ``targets(X[n, d])`` checked against its ``action_space``.

    ``fn`` returns the targets: probabilities for discrete actions (``action_space=None``, the
    actions named by ``action_names`` or, for a batch callable, on its first call) or actions
    for a ``BoxActions`` space. Optional signals: ``std_fn`` (per-dimension std of Box actions),
    ``q_fn`` (DQN-style Q-values), ``log_proba_fn`` (policy-gradient log-probabilities) and
    ``critic_fn`` (a SAC/TD3 critic: the Q-value of given Box actions in given states).
    ``ops_per_decision`` is the teacher's multiply-adds per decision when countable, else
    ``None``; ``identity`` names it in logs; ``content_hash`` is the ``sha256:…`` of its weights
    when it has any.
    """

    def __init__(
        self,
        fn: ArrayFn,
        action_names: Sequence[str] | None = None,
        *,
        action_space: ActionSpace | None = None,
        std_fn: ArrayFn | None = None,
        feature_names: Sequence[str] | None = None,
        ops_per_decision: float | None = None,
        q_fn: ArrayFn | None = None,
        log_proba_fn: ArrayFn | None = None,
        critic_fn: CriticFn | None = None,
        identity: str = "teacher",
        content_hash: str | None = None,
    ) -> None:
        self._fn = fn
        self._critic_fn = critic_fn
        self._space = action_space
        self._answers = _ANSWERS[DiscreteActions.kind if action_space is None else action_space.kind]
        names = action_names if action_space is None else action_space.names
        self._action_names = None if names is None else _names(names, "action_names")
        self._std_fn = std_fn
        self.feature_names = None if feature_names is None else _names(feature_names, "feature_names")
        self.ops_per_decision = None if ops_per_decision is None else float(ops_per_decision)
        self._q_fn = q_fn
        self._log_proba_fn = log_proba_fn
        self.identity = identity
        self.content_hash = content_hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r}, actions={self._action_names})"

    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the actions (discrete) or of the action dimensions (Box), in column order."""
        if self._action_names is None:
            names = getattr(self._fn, "action_names", None)
            if names is None:
                raise TeacherError(f"teacher {self.identity!r} has not named its actions yet; pass action_names=[...] to as_teacher or call predict_proba once")
            self._action_names = _names(names, "action_names")
        return self._action_names

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def action_space(self) -> ActionSpace:
        """The teacher's actions: ``DiscreteActions`` of its action names, or its ``BoxActions``."""
        return DiscreteActions(self.action_names) if self._space is None else self._space

    @property
    def space_type(self) -> type[ActionSpace]:
        """The class of the teacher's action space, known before a batch callable names its actions."""
        return DiscreteActions if self._space is None else type(self._space)

    @property
    def action_low(self) -> np.ndarray:
        """Lower bound of each action dimension (float32 ``[m]``); discrete actions have none (``AttributeError``)."""
        return self._box().low.astype(np.float32)

    @property
    def action_high(self) -> np.ndarray:
        """Upper bound of each action dimension (float32 ``[m]``); discrete actions have none (``AttributeError``)."""
        return self._box().high.astype(np.float32)

    def _box(self) -> BoxActions:
        if not isinstance(self._space, BoxActions):
            raise AttributeError(f"teacher {self.identity!r} chooses among discrete actions, which have no bounds")
        return self._space

    @property
    def action_kind(self) -> str:
        """The kind of the teacher's actions, as ``ActionSpace.kind`` names it."""
        return self.space_type.kind

    def _states(self, X: Any) -> Any:
        return teacher_states(X, self.feature_names, self.identity, copy=True)

    def targets(self, X: Any) -> np.ndarray:
        """What a dataset keeps of the teacher's decisions, validated: probabilities ``[n, k]``
        (float32, finite, ≥ 0, rows summing to 1) or actions ``[n, m]`` clipped to the bounds."""
        states = self._states(X)
        return self._answers.check(self, self._fn(states), len(states))

    def predict(self, X: Any) -> np.ndarray:
        """Greedy actions: the most probable action's index (int64 ``[n]``) or the action (float32 ``[n, m]``)."""
        targets = self.targets(X)  # first: a batch callable names its actions on its first call
        return self.action_space.greedy(targets)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Action probabilities ``[n, k]``; a teacher of Box actions has none and raises ``TeacherError``."""
        return self._answers.proba(self, X)

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

    def q_values(self, X: Any) -> np.ndarray | None:
        """Q-values ``[n, k]`` (float32) when the teacher exposes them, else ``None``."""
        return None if self._q_fn is None else _finite(self._q_fn(self._states(X)), "Q-values", self.identity)

    @property
    def has_critic(self) -> bool:
        """Whether ``action_values`` can answer (the teacher carries a critic of its actions)."""
        return self._critic_fn is not None

    def action_values(self, X: Any, A: Any) -> np.ndarray | None:
        """The critic's Q-value ``[n]`` (float64) of actions ``A[n, m]`` in states ``X``, or ``None``
        without a critic."""
        if self._critic_fn is None:
            return None
        states = self._states(X)
        actions = validate_actions(A, len(states), self.n_actions, self.identity, "critic actions")
        return _finite(self._critic_fn(states, actions), "critic values", self.identity).astype(np.float64).reshape(len(states))

    def log_proba(self, X: Any) -> np.ndarray | None:
        """Log-probabilities ``[n, k]`` (float32) when the teacher exposes them, else ``None``."""
        if self._log_proba_fn is None:
            return None
        return np.asarray(self._log_proba_fn(self._states(X)), dtype=np.float32)


class ContinuousTeacher(Teacher):
    """A teacher of bounded actions: ``action_fn(X[n, d]) -> [n, m]`` within ``action_low..action_high``.

    ``std_fn`` gives the per-dimension spread in action units when the policy has one;
    ``critic_fn(X, A)`` the Q-value of actions ``A`` when an actor-critic's critic is reachable;
    ``action_names`` name the dimensions (``action_0``, … when omitted).
    """

    def __init__(
        self,
        action_fn: ArrayFn,
        action_low: Any,
        action_high: Any,
        action_names: Sequence[str] | None = None,
        *,
        feature_names: Sequence[str] | None = None,
        std_fn: ArrayFn | None = None,
        critic_fn: CriticFn | None = None,
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
        names = _names(action_names or tuple(f"action_{i}" for i in range(len(low))), "action_names")
        if len(names) != len(low):
            raise TeacherError(f"teacher {identity!r} names {len(names)} action dimensions but its bounds have {len(low)}; give one name per dimension")
        super().__init__(
            action_fn,
            action_space=BoxActions(names, low, high),
            std_fn=std_fn,
            critic_fn=critic_fn,
            feature_names=feature_names,
            ops_per_decision=ops_per_decision,
            identity=identity,
            content_hash=content_hash,
        )


def _proba_targets(teacher: Teacher, out: Any, n_states: int) -> np.ndarray:
    if teacher._action_names is None and getattr(teacher._fn, "action_names", None) is None:
        shape = np.shape(out)
        if len(shape) != 2:
            raise TeacherError(f"teacher {teacher.identity!r} returned shape {shape}; expected [n_states, n_actions] probabilities")
        teacher._action_names = tuple(f"action_{i}" for i in range(shape[1]))
    return validate_proba(out, n_states, teacher.n_actions, teacher.identity)


def _box_targets(teacher: Teacher, out: Any, n_states: int) -> np.ndarray:
    space = teacher._box()
    return space.clip(validate_actions(out, n_states, space.n, teacher.identity, "actions"))


def _no_proba(teacher: Teacher, X: Any) -> np.ndarray:
    raise TeacherError(f"teacher {teacher.identity!r} acts with continuous actions and has no action probabilities; use predict(X) for its actions")


class _Answers(NamedTuple):
    """What a teacher's targets are in one kind of action space: how they are checked and
    whether they are the action probabilities."""

    check: Callable[[Teacher, Any, int], np.ndarray]
    proba: Callable[[Teacher, Any], np.ndarray]


_ANSWERS = {
    DiscreteActions.kind: _Answers(_proba_targets, lambda teacher, X: teacher.targets(X)),
    BoxActions.kind: _Answers(_box_targets, _no_proba),
}


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


def _finite(out: Any, what: str, identity: str) -> np.ndarray:
    a = np.asarray(out, dtype=np.float32)
    if not np.isfinite(a).all():
        row = int(np.argwhere(~np.isfinite(a))[0][0])
        raise TeacherError(f"teacher {identity!r} returned non-finite {what} at row {row}")
    return a


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


def continuous_weights(teacher: Teacher, X: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
    """Per-state importance for Box actions, normalised to mean 1, and its source.

    ``kind="q"`` with a critic (``teacher.action_values``): VIPER's weight carried to Box actions,
    how much the critic's value drops when the teacher's action is moved —
    ``Q(s, a*) - min_j Q(s, a* ± PERTURBATION · range_j e_j)`` over each dimension moved both
    ways (clipped to the bounds), floored at 0. Otherwise, and for ``"margin"`` or ``"std"``,
    states where the teacher is sure of its action (small std relative to each dimension's range)
    weigh more: ``1 / (mean_j std_j / range_j + STD_FLOOR)``; a PPO value head V(s) says nothing
    about actions, so PPO teachers weigh by their std.
    """
    if kind not in ("q", "margin", "std"):
        raise DataError(f"weighting must be None, 'q', 'margin' or 'std'; got {kind!r}")
    if kind == "q" and teacher.has_critic:
        return _critic_weights(teacher, X), "critic"
    std = teacher.action_std(X)
    if std is None:
        raise DataError(f"teacher {teacher.identity!r} has neither a critic nor an action std, so states cannot be weighted; use weighting=None")
    rel = (std / (teacher.action_high - teacher.action_low)).mean(axis=1)
    w = 1.0 / (rel + STD_FLOOR)
    return (w / w.mean()).astype(np.float32), "std"


PERTURBATION = 0.25  # share of each action dimension's range the critic-drop weight moves the action by


def perturbed_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``[2m, n, m]``: each row's action with one dimension moved by ``± PERTURBATION · range``, clipped."""
    m = actions.shape[1]
    step = PERTURBATION * (high - low)
    out = np.repeat(actions[None], 2 * m, axis=0)
    for j in range(m):
        out[2 * j, :, j] += step[j]
        out[2 * j + 1, :, j] -= step[j]
    return np.clip(out, low, high)


def _critic_weights(teacher: Teacher, X: np.ndarray) -> np.ndarray:
    chosen = teacher.predict(X)
    values = lambda A: np.asarray(teacher.action_values(X, A), dtype=np.float64)  # noqa: E731
    base = values(chosen)
    worst = np.min([values(a) for a in perturbed_actions(chosen, teacher.action_low, teacher.action_high)], axis=0)
    gap = np.maximum(base - worst, 0.0)
    mean = gap.mean() if len(gap) else 0.0
    if not mean > 0:
        raise DataError(
            f"teacher {teacher.identity!r}: its critic values every perturbed action as its own on every state, so no state would count; use weighting=None"
        )
    return (gap / mean).astype(np.float32)
