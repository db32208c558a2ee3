"""Kinds of agent as values: what an agent does (``ActionSpace``) and what it sees (``StateSpace``).

Every stage of the pipeline — teachers, datasets, students, metrics, exports, rollouts, DAgger
and the report — asks the space of the data in hand instead of branching on the kind itself
(gymnasium's ``Space`` and imitation's ``BC(action_space=…)`` are the habit copied):

- ``DiscreteActions(names)``: the agent picks one of ``names``; targets are the teacher's
  probabilities ``[n, k]``; the greedy action is the argmax; fidelity is top-1 agreement; the
  divergence is KL(teacher ‖ student); the environment takes an ``int``.
- ``BoxActions(names, low, high)``: the agent outputs one value per named dimension within the
  bounds; targets are the teacher's actions ``[n, m]``; the greedy action is the action itself,
  clipped; fidelity is the share of states within ``tolerance`` of every dimension's range; the
  divergence is the range-normalised MSE; the environment takes a float32 vector.

``action_space_of(obj)`` is the one place that reads an object's kind (a dataset, a teacher, a
student, a gymnasium space or environment). ``StateSpace`` says whether states are numeric
vectors (``VectorStates``) or structured records (``RecordStates``) that a featurizer turns into
vectors as the first stage of a student.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hybrid import metrics
from hybrid.errors import DataError
from hybrid.validation import non_finite_at, probability_problem

__all__ = [
    "ActionSpace",
    "BoxActions",
    "DiscreteActions",
    "RecordStates",
    "StateSpace",
    "VectorStates",
    "action_space_of",
    "check_names",
    "state_space_of",
]


def check_names(names: Any, what: str) -> tuple[str, ...]:
    """Action or feature names as a tuple of unique strings, refusing a bare string."""
    if isinstance(names, str) or not isinstance(names, (Sequence, np.ndarray)):
        raise DataError(f"{what} must be a list of names; got {names!r}")
    out = tuple(str(n) for n in names)
    if len(set(out)) != len(out):
        raise DataError(f"{what} has duplicate names {list(out)}; every name must be unique")
    return out


class ActionSpace(ABC):
    """What an agent does: the kind of its actions and everything that depends on the kind."""

    kind: ClassVar[str]
    names: tuple[str, ...]

    @property
    def n(self) -> int:
        """Number of actions (discrete) or of action dimensions (Box)."""
        return len(self.names)

    @property
    def is_discrete(self) -> bool:
        return self.kind == "discrete"

    # -- targets and actions -------------------------------------------------------------------
    @abstractmethod
    def check_targets(self, targets: Any, n_states: int, *, what: str = "P") -> np.ndarray:
        """The teacher's targets as float32 ``[n_states, n]``, checked (``DataError`` naming the fix)."""

    @abstractmethod
    def greedy(self, targets: Any) -> np.ndarray:
        """The action a policy with these targets takes: int64 ``[n]`` or float32 ``[n, m]``."""

    @abstractmethod
    def env_action(self, action: Any, shape: tuple[int, ...] | None = None) -> Any:
        """One action as an environment's ``step`` takes it (``shape``: the env's Box shape)."""

    @abstractmethod
    def student_output(self, student: Any, X: Any) -> np.ndarray:
        """What fidelity and divergence read from a student: probabilities or actions."""

    @abstractmethod
    def actions_of(self, policy: Any) -> Callable[[np.ndarray], np.ndarray]:
        """Batch greedy actions of a fitted student or an adapted teacher ``X[n, d] -> actions``."""

    # -- how close ------------------------------------------------------------------------------
    @abstractmethod
    def fidelity(self, teacher: Any, student: Any, weights: Any = None) -> float:
        """Agreement of the student's output with the teacher's targets (or actions)."""

    @abstractmethod
    def divergence(self, teacher: Any, student: Any, weights: Any = None) -> float:
        """How far the student's output is from the teacher's targets (0 = identical)."""

    @abstractmethod
    def agrees(self, teacher_actions: Any, student_actions: Any) -> np.ndarray:
        """Per state, whether two greedy actions agree (bool ``[n]``)."""

    @property
    @abstractmethod
    def divergence_name(self) -> str:
        """The divergence's name in reports (``"kl"`` or ``"nmse"``)."""

    # -- identity -------------------------------------------------------------------------------
    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-able form (``from_dict`` rebuilds it)."""

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ActionSpace:
        """Rebuild a space from ``to_dict()`` output."""
        kind = data.get("kind")
        if kind == DiscreteActions.kind:
            return DiscreteActions(data["names"])
        if kind == BoxActions.kind:
            return BoxActions(data["names"], data["low"], data["high"], tolerance=float(data.get("tolerance", metrics.DEFAULT_TOLERANCE)))
        raise DataError(f"unknown action space kind {kind!r}; known: 'discrete', 'continuous'")

    def check_same(self, other: ActionSpace, what: str = "the data") -> None:
        """Refuse ``other`` unless it is the same kind with the same names (and bounds)."""
        if self != other:
            raise DataError(f"{what} acts in {other!r} but this expects {self!r}; use data, teachers and students of one action space")

    # -- rollouts: what the one rollout loop and DAgger ask ---------------------------------------
    @abstractmethod
    def sample(self, target: Any, rng: np.random.Generator, std: Any = None) -> Any:
        """One exploratory action from one state's ``target`` (``collect(sample=True)``)."""

    @abstractmethod
    def bound_args(self) -> dict[str, np.ndarray]:
        """The bounds as keyword arguments (``action_low``, ``action_high``) of a student's
        ``fit``, a store's ``start_run`` and a dataset; none for discrete actions."""

    def dataset_args(self, std: Any = None) -> dict[str, Any]:
        """Keyword arguments of a ``DistillDataset`` whose targets live in this space
        (``std``: the teacher's per-dimension spread, Box only)."""
        return {"action_kind": self.kind, "action_std": std, **self.bound_args()}

    @abstractmethod
    def store_actions(self, taken: Sequence[Any]) -> np.ndarray | None:
        """The ``actions`` column a trajectory store logs for the actions taken: indices for
        discrete actions; none for a Box, whose logged targets are the actions."""

    # -- what a search asks ---------------------------------------------------------------------
    @abstractmethod
    def constant_fidelity(self, train_targets: Any, held_out_targets: Any) -> float:
        """Fidelity on the held-out targets of a policy that never looks at the state: the most
        common held-out action (discrete) or the mean training action (Box). A student must beat it."""

    @abstractmethod
    def nothing_to_distil(self, targets: Any) -> str | None:
        """Why a teacher with these targets leaves nothing to distil (a constant reproduces it), or None."""

    @abstractmethod
    def confusion(self, teacher: Any, student: Any) -> list[list[int]] | None:
        """Counts of ``[teacher action][student action]`` from targets and a student's output
        (``student_output``); None for a Box, which has no top-1 action to confuse."""

    @abstractmethod
    def describe(self) -> str:
        """The actions and how fidelity counts agreement with them, in words (reports)."""


@dataclass(frozen=True, eq=True)
class DiscreteActions(ActionSpace):
    """One of ``names`` per decision; targets are probabilities ``[n, k]`` (at least two actions)."""

    names: tuple[str, ...]
    kind: ClassVar[str] = "discrete"

    def __init__(self, names: Sequence[str]) -> None:
        object.__setattr__(self, "names", check_names(names, "action_names"))

    def __repr__(self) -> str:
        return f"DiscreteActions({list(self.names)})"

    def check_targets(self, targets: Any, n_states: int, *, what: str = "P") -> np.ndarray:
        P = _float32(targets, what)
        if P.shape != (n_states, self.n):
            raise DataError(f"{what} has shape {P.shape}; expected [{n_states}, {self.n}] (one probability per action per state)")
        problem = probability_problem(P)
        if problem is not None:
            raise DataError(f"{what} {problem}; pass normalised probabilities (softmax the logits)")
        return P

    def greedy(self, targets: Any) -> np.ndarray:
        return np.argmax(np.asarray(targets), axis=1).astype(np.int64)

    def env_action(self, action: Any, shape: tuple[int, ...] | None = None) -> int:
        return int(action)

    def student_output(self, student: Any, X: Any) -> np.ndarray:
        return np.asarray(student.predict_proba(X))

    def actions_of(self, policy: Any) -> Callable[[np.ndarray], np.ndarray]:
        return lambda X: np.asarray(policy.predict(X)).reshape(-1).astype(np.int64)

    def fidelity(self, teacher: Any, student: Any, weights: Any = None) -> float:
        return metrics.fidelity(teacher, student, weights)

    def divergence(self, teacher: Any, student: Any, weights: Any = None) -> float:
        return metrics.kl(teacher, student, weights)

    def agrees(self, teacher_actions: Any, student_actions: Any) -> np.ndarray:
        return np.asarray(teacher_actions).reshape(-1) == np.asarray(student_actions).reshape(-1)

    @property
    def divergence_name(self) -> str:
        return "kl"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names)}

    def sample(self, target: Any, rng: np.random.Generator, std: Any = None) -> int:
        p = np.asarray(target)
        return int(rng.choice(len(p), p=p / p.sum()))

    def bound_args(self) -> dict[str, np.ndarray]:
        return {}

    def store_actions(self, taken: Sequence[Any]) -> np.ndarray:
        return np.array(taken)

    def constant_fidelity(self, train_targets: Any, held_out_targets: Any) -> float:
        P = np.asarray(held_out_targets)
        return float(np.bincount(P.argmax(axis=1), minlength=P.shape[1]).max() / len(P))

    def nothing_to_distil(self, targets: Any) -> str | None:
        if self.n < 2:
            return f"the dataset has {self.n} action; distillation needs at least 2."
        P = np.asarray(targets)
        labels = np.unique(P.argmax(axis=1))
        if labels.size < 2:
            return (
                f"the teacher chose the single action {self.names[int(labels[0])]!r} in all {len(P)} states; there is nothing to distil "
                "(a constant policy reproduces it). Log states where it acts differently."
            )
        return None

    def confusion(self, teacher: Any, student: Any) -> list[list[int]] | None:
        T, S = np.asarray(teacher), np.asarray(student)
        m = np.zeros((T.shape[1], T.shape[1]), dtype=np.int64)
        np.add.at(m, (T.argmax(axis=1), S.argmax(axis=1)), 1)
        return m.tolist()

    def describe(self) -> str:
        return f"discrete actions {', '.join(self.names)}; fidelity: top-1 agreement with the teacher"


@dataclass(frozen=True, eq=False)
class BoxActions(ActionSpace):
    """One bounded value per named dimension; targets are actions ``[n, m]`` within ``low..high``.

    ``tolerance`` is fidelity's: an action counts as agreeing when every dimension is within
    ``tolerance × (high - low)`` of the teacher's (``hybrid.metrics.DEFAULT_TOLERANCE``, 5%).
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    tolerance: float = field(default=metrics.DEFAULT_TOLERANCE)
    kind: ClassVar[str] = "continuous"

    def __init__(self, names: Sequence[str] | None, low: Any, high: Any, *, tolerance: float = metrics.DEFAULT_TOLERANCE) -> None:
        lo = np.asarray(low, dtype=np.float64).reshape(-1)
        hi = np.asarray(high, dtype=np.float64).reshape(-1)
        if lo.shape != hi.shape or not (np.isfinite(lo).all() and np.isfinite(hi).all()) or not (hi > lo).all():
            raise DataError(f"action bounds {lo.tolist()}..{hi.tolist()} must be finite with high > low in every dimension (a bounded Box)")
        names = tuple(f"action_{i}" for i in range(len(lo))) if names is None else check_names(names, "action_names")
        if len(names) != len(lo):
            raise DataError(f"{len(names)} action names for {len(lo)} bounded dimensions; give one name per dimension")
        if not tolerance > 0:
            raise DataError(f"tolerance must be > 0 (a share of each dimension's range); got {tolerance}")
        lo.setflags(write=False)
        hi.setflags(write=False)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        object.__setattr__(self, "tolerance", float(tolerance))

    def __repr__(self) -> str:
        return f"BoxActions({list(self.names)}, low={self.low.tolist()}, high={self.high.tolist()})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoxActions)
            and self.names == other.names
            and np.array_equal(self.low, other.low)
            and np.array_equal(self.high, other.high)
            and self.tolerance == other.tolerance
        )

    def __hash__(self) -> int:
        return hash((self.names, self.low.tobytes(), self.high.tobytes(), self.tolerance))

    def check_targets(self, targets: Any, n_states: int, *, what: str = "actions") -> np.ndarray:
        A = _float32(targets, what)
        if A.ndim == 1 and self.n == 1 and A.shape[0] == n_states:
            A = A[:, None]
        if A.shape != (n_states, self.n):
            raise DataError(f"{what} has shape {A.shape}; expected [{n_states}, {self.n}] (one value per action dimension per state)")
        where = non_finite_at(A)
        if where is not None:
            raise DataError(f"{what} holds NaN or infinity at row {where[0]}; pass finite teacher actions")
        return A

    def clip(self, actions: Any) -> np.ndarray:
        """Actions clipped to the bounds, float32 ``[n, m]``."""
        A = np.asarray(actions, dtype=np.float32)
        A = A[:, None] if A.ndim == 1 and self.n == 1 else A
        return np.clip(A, self.low.astype(np.float32), self.high.astype(np.float32))

    def greedy(self, targets: Any) -> np.ndarray:
        return self.clip(targets)

    def env_action(self, action: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
        return np.asarray(action, dtype=np.float32).reshape(shape if shape is not None else (self.n,))

    def student_output(self, student: Any, X: Any) -> np.ndarray:
        return np.asarray(student.predict(X))  # as the student computes them (float64): scores see every digit

    def actions_of(self, policy: Any) -> Callable[[np.ndarray], np.ndarray]:
        return lambda X: np.asarray(policy.predict(X), dtype=np.float32).reshape(len(X), -1)

    def fidelity(self, teacher: Any, student: Any, weights: Any = None) -> float:
        return metrics.action_fidelity(teacher, student, self.low, self.high, tolerance=self.tolerance, weights=weights)

    def divergence(self, teacher: Any, student: Any, weights: Any = None) -> float:
        return metrics.normalised_mse(teacher, student, self.low, self.high, weights)

    def agrees(self, teacher_actions: Any, student_actions: Any) -> np.ndarray:
        t = np.asarray(teacher_actions, dtype=np.float64).reshape(-1, self.n)
        s = np.asarray(student_actions, dtype=np.float64).reshape(-1, self.n)
        return np.asarray((np.abs(t - s) <= self.tolerance * (self.high - self.low)).all(axis=1))

    @property
    def divergence_name(self) -> str:
        return "nmse"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "low": self.low.tolist(), "high": self.high.tolist(), "tolerance": self.tolerance}

    def sample(self, target: Any, rng: np.random.Generator, std: Any = None) -> np.ndarray:
        """The action plus Gaussian noise of ``std`` (the teacher's), clipped to the bounds."""
        if std is None:
            raise DataError("the teacher has no action std to sample from; collect with sample=False")
        a = np.asarray(target)
        return np.clip(a + rng.normal(size=a.shape).astype(np.float32) * std, self.low, self.high)

    def bound_args(self) -> dict[str, np.ndarray]:
        return {"action_low": self.low, "action_high": self.high}

    def store_actions(self, taken: Sequence[Any]) -> None:
        return None

    def constant_fidelity(self, train_targets: Any, held_out_targets: Any) -> float:
        held_out = np.asarray(held_out_targets)
        mean = np.broadcast_to(np.asarray(train_targets).mean(axis=0), held_out.shape)
        return float(metrics.action_fidelity(held_out, mean, self.low, self.high, tolerance=self.tolerance))

    def nothing_to_distil(self, targets: Any) -> str | None:
        A = np.asarray(targets)
        if np.ptp(A, axis=0).max() <= 0:
            return f"the teacher gave the same action in all {len(A)} states; there is nothing to distil (a constant reproduces it). Log states where it acts differently."
        return None

    def confusion(self, teacher: Any, student: Any) -> list[list[int]] | None:
        return None

    def describe(self) -> str:
        ranges = ", ".join(f"{n} in [{lo:g}, {hi:g}]" for n, lo, hi in zip(self.names, self.low.tolist(), self.high.tolist(), strict=True))
        return (
            f"continuous actions {ranges}; fidelity: share of held-out states whose every action is within "
            f"{100 * self.tolerance:g}% of its range of the teacher's (tolerance {self.tolerance:g}); nMSE: normalised mean squared error"
        )


def _float32(a: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DataError(f"{what} must be numeric; could not convert: {e}") from None


def _from_gym(space: Any, names: Sequence[str] | None) -> ActionSpace:
    import gymnasium as gym

    if isinstance(space, gym.spaces.Discrete):
        return DiscreteActions(names if names is not None else [f"action_{i}" for i in range(int(space.n))])
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1 and space.is_bounded("both"):
        return BoxActions(names, space.low, space.high)
    raise DataError(
        f"action space {space} is neither Discrete nor a bounded 1-D Box; agent-distill takes those two "
        "(wrap others, e.g. with gymnasium.wrappers.RescaleAction or FlattenObservation)"
    )


def action_space_of(obj: Any, names: Sequence[str] | None = None) -> ActionSpace:
    """The action space of ``obj``: an ``ActionSpace`` as it is; a gymnasium ``Discrete``/``Box``
    (``names`` name its actions); anything carrying ``action_space`` (a dataset, a teacher, a
    student, an environment). The one place an object's kind of action is read."""
    if isinstance(obj, ActionSpace):
        return obj
    if type(obj).__module__.startswith("gymnasium.spaces"):
        return _from_gym(obj, names)
    space = getattr(obj, "action_space", None)
    if space is not None and not callable(space):
        return action_space_of(space, names if names is not None else getattr(obj, "action_names", None))
    raise DataError(f"{type(obj).__name__} carries no action space; pass a gymnasium space, a dataset, a teacher or a fitted student")


class StateSpace(ABC):
    """What an agent sees: numeric vectors or structured records. The dataset holding the states
    turns them into what a numeric student reads (``student_features``)."""

    kind: ClassVar[str]
    featurized: ClassVar[bool] = False  # a featurizer fitted per search is the first stage of a student

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-able form."""


@dataclass(frozen=True)
class VectorStates(StateSpace):
    """Numeric state vectors of ``n`` features (named when ``names`` is given)."""

    n: int
    names: tuple[str, ...] | None = None
    kind: ClassVar[str] = "vector"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "names": None if self.names is None else list(self.names)}


@dataclass(frozen=True)
class RecordStates(StateSpace):
    """Structured records: field name → kind (``text``, ``category``, ``number``, ``list``, …);
    a fitted featurizer turns them into vectors as the first stage of a student."""

    fields: tuple[tuple[str, str], ...]
    kind: ClassVar[str] = "record"
    featurized: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fields": dict(self.fields)}


def state_space_of(obj: Any) -> StateSpace:
    """The state space of a dataset (``RecordDataset``: records; ``DistillDataset``: vectors)."""
    space = getattr(obj, "state_space", None)
    if isinstance(space, StateSpace):
        return space
    raise DataError(f"{type(obj).__name__} carries no state space; pass a DistillDataset or a RecordDataset")
