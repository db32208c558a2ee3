"""A mixture of teachers is a teacher too: several adapted teachers behind the one contract.

``mixture_teacher([a, b], gate=...)`` combines teachers that share an action set:

- ``gate="average"`` (default): the weighted average of their probabilities (discrete) or of
  their actions (continuous), with ``weights`` summing to 1 (equal when omitted);
- ``gate="confident"``: per state, the teacher whose top action is most probable answers;
- ``gate="value"``: per state, the teacher with the higher value estimate answers — the max of
  its ``q_values`` (a DQN teacher) or its ``value(X)`` critic; teachers without either are
  refused before any work, naming ``gate="confident"`` as the fix;
- a callable ``gate(X, teachers) -> int[n]`` picks the answering teacher per state.

The mixture remembers which member answered each state (``labelled_by``), so datasets it labels
keep, per row, which teacher labelled it; its ``members`` name every teacher so the ledger can
record each as a parent (``auto_search.record``). Its ``content_hash`` covers the members'
hashes, the weights and the gate, so a different mixture is a different teacher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hybrid.errors import TeacherError
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import Teacher
from provenance.hashing import hash_json

GATES = ("average", "confident", "value")
AVERAGED = -1  # ``labelled_by`` of a state whose label averages every member
Gate = Callable[[np.ndarray, Sequence[Any]], np.ndarray]


def check_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    """Mixture weights as float64 ``[n]``: finite, ≥ 0 and summing to 1 (equal when ``None``)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise TeacherError(f"weights has {w.size} values for {n} teachers; give one weight per teacher, e.g. {[round(1 / n, 3)] * n}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise TeacherError(f"weights {w.tolist()} must be finite and ≥ 0")
    if abs(w.sum() - 1.0) > 1e-6:
        raise TeacherError(f"weights {w.tolist()} sum to {w.sum():.6g}, not 1; divide them by their sum ({(w / w.sum()).round(6).tolist()} if that is meant)")
    return w


def _member_hash(t: Any) -> str:
    own = getattr(t, "content_hash", None)
    return str(own) if own else hash_json({"identity": getattr(t, "identity", type(t).__name__)})


def _check_members(teachers: Sequence[Any]) -> None:
    for i, t in enumerate(teachers):
        try:
            _ = t.action_names
        except TeacherError:
            raise TeacherError(
                f"teacher {i} ({t.identity!r}) has not named its actions yet, so the mixture cannot check that the action sets match; "
                "adapt it with as_teacher(t, action_names=[...]) first"
            ) from None
    first = teachers[0]
    for i, t in enumerate(teachers[1:], start=1):
        if t.space_type is not first.space_type:
            raise TeacherError(f"teacher {i} ({t.identity!r}) acts {t.action_kind}ly but teacher 0 does not; mix teachers of one action kind")
        if tuple(t.action_names) != tuple(first.action_names):
            raise TeacherError(
                f"teacher {i} ({t.identity!r}) has actions {list(t.action_names)} but teacher 0 ({first.identity!r}) has "
                f"{list(first.action_names)}; mix only teachers of the same action set, in the same order (re-adapt one with as_teacher(..., action_names=...))"
            )
        if t.feature_names is not None and first.feature_names is not None and tuple(t.feature_names) != tuple(first.feature_names):
            raise TeacherError(
                f"teacher {i} ({t.identity!r}) reads features {list(t.feature_names)} but teacher 0 reads {list(first.feature_names)}; mix teachers of one state layout"
            )


def _critic(original: Any, adapted: Any) -> Any:
    """The value function a member exposes: ``value(X)`` on the object given or its adapter."""
    for obj in (original, adapted):
        critic = getattr(obj, "value", None)
        if callable(critic):
            return critic
    return None


def _value_of(t: Any, critic: Any, X: np.ndarray) -> np.ndarray:
    """A member's value estimate per state: the max of its Q-values, else its critic."""
    q = t.q_values(X) if callable(getattr(t, "q_values", None)) else None
    if q is not None:
        return np.asarray(q, dtype=np.float64).max(axis=1)
    return np.asarray(critic(X), dtype=np.float64).reshape(-1)


class MixtureTeacher(Teacher):
    """A teacher of either kind of action combining ``members`` by ``gate`` (see the module docstring)."""

    def __init__(self, members: Sequence[Teacher], *, weights: np.ndarray, gate: str | Gate, identity: str, critics: Sequence[Any] = ()) -> None:
        self.members = tuple(members)
        self.critics = tuple(critics) or (None,) * len(self.members)
        self.weights = weights
        self.gate = gate
        first = self.members[0]
        super().__init__(
            self._combine,
            action_space=first.action_space,
            feature_names=first.feature_names,
            ops_per_decision=self._ops(),
            log_proba_fn=self._log_proba if first.action_space.is_discrete else None,
            identity=identity,
            content_hash=hash_json({"mixture": [_member_hash(t) for t in self.members], "weights": weights.tolist(), "gate": gate_name(gate)}),
        )

    def _ops(self) -> float | None:
        ops = [t.ops_per_decision for t in self.members]
        known = [o for o in ops if o is not None]
        return None if len(known) < len(ops) else float(sum(known))  # every member is asked every time

    def labelled_by(self, X: Any) -> np.ndarray:
        """Per state, the index of the member whose answer is the label (``AVERAGED`` = -1 for an average)."""
        states = self._states(X)
        if self.gate == "average":
            return np.full(len(states), AVERAGED, dtype=np.int64)
        if self.gate == "confident":
            return np.argmax(np.stack([t.predict_proba(states).max(axis=1) for t in self.members]), axis=0).astype(np.int64)
        if self.gate == "value":
            values = [_value_of(t, c, states) for t, c in zip(self.members, self.critics)]
            return np.argmax(np.stack(values), axis=0).astype(np.int64)
        assert callable(self.gate)
        pick = np.asarray(self.gate(states, self.members)).reshape(-1)
        if pick.shape != (len(states),) or not np.issubdtype(pick.dtype, np.integer) or pick.min() < 0 or pick.max() >= len(self.members):
            raise TeacherError(f"the gate returned {pick!r}; a gate returns one teacher index in [0, {len(self.members)}) per state (int array [n])")
        return pick.astype(np.int64)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        """The members' targets (probabilities or actions), averaged or picked per state."""
        T = np.stack([t.targets(X) for t in self.members]).astype(np.float64)  # [m, n, k]
        if self.gate == "average":
            return np.tensordot(self.weights, T, axes=1)
        pick = self.labelled_by(X)
        return T[pick, np.arange(len(X))]

    def q_values(self, X: Any) -> np.ndarray | None:
        """The answering member's Q-values when every member has them (average: weighted mean)."""
        states = self._states(X)
        Qs = [t.q_values(states) for t in self.members]
        known = [q for q in Qs if q is not None]
        if len(known) < len(Qs):
            return None
        Q = np.stack(known).astype(np.float64)
        if self.gate == "average":
            return np.tensordot(self.weights, Q, axes=1).astype(np.float32)
        return Q[self.labelled_by(states), np.arange(len(states))].astype(np.float32)

    def _log_proba(self, X: np.ndarray) -> np.ndarray:
        """Log of the mixture's probabilities (VIPER weights read it as a policy-gradient teacher's)."""
        return np.log(np.maximum(self.predict_proba(X), 1e-12))


def gate_name(gate: str | Gate) -> str:
    """The gate as recorded: its name, or ``callable:<qualified name>`` for a user gate."""
    return gate if isinstance(gate, str) else f"callable:{getattr(gate, '__qualname__', type(gate).__name__)}"


def mixture_teacher(
    teachers: Sequence[Any], *, weights: Sequence[float] | None = None, gate: str | Gate = "average", action_space: Any = None
) -> MixtureTeacher:
    """Adapt each of ``teachers`` (anything ``as_teacher`` takes) and combine them into one teacher.

    Refuses, before any labelling: fewer than two teachers, different action sets or action
    kinds, weights not summing to 1, an unknown gate, and ``gate="value"`` over a teacher that
    exposes neither Q-values nor a ``value`` critic. Continuous teachers mix by ``"average"``
    (of actions) or a callable gate.
    """
    if len(teachers) < 2:
        raise TeacherError(f"a mixture needs at least two teachers; got {len(teachers)} (use the teacher itself)")
    if not callable(gate) and gate not in GATES:
        raise TeacherError(f"unknown gate {gate!r}; use one of {list(GATES)} or a callable gate(X, teachers) -> teacher index per state")
    members = [as_teacher(t, action_space=action_space) for t in teachers]
    _check_members(members)
    w = check_weights(weights, len(members))
    if gate != "average" and weights is not None:
        raise TeacherError(f"weights apply to gate='average'; gate {gate_name(gate)!r} picks one teacher per state — drop weights or use gate='average'")
    identity = f"mixture[{gate_name(gate)}]({', '.join(t.identity for t in members)})"
    if not members[0].action_space.is_discrete and not (gate == "average" or callable(gate)):
        raise TeacherError(f"continuous teachers mix by gate='average' (of actions) or a callable gate; {gate!r} needs action probabilities")
    critics = [_critic(o, t) for o, t in zip(teachers, members)]
    if gate == "value":
        for i, (t, c) in enumerate(zip(members, critics)):
            if getattr(t, "_q_fn", None) is None and c is None:
                raise TeacherError(
                    f"gate='value' needs a value estimate from every teacher, but teacher {i} ({t.identity!r}) exposes neither "
                    "Q-values nor a value(X) critic; use gate='confident' or give it a value(X) method"
                )
    return MixtureTeacher(members, weights=w, gate=gate, identity=identity, critics=critics)
