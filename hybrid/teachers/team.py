"""Team teachers: decisions for every agent of a team, behind one contract.

A ``TeamTeacher`` maps the observations of every agent at ``n`` steps, ``{agent: X[n, d]}``,
to each agent's action probabilities, ``{agent: P[n, k]}``. Three kinds, one contract:

- **shared** — one ``Teacher`` applied to each agent's own observation (parameter sharing);
- **per_agent** — one ``Teacher`` per agent, each on its own observation;
- **centralised** — one function that sees every agent's observation, concatenated in team
  order (or anything computed from them, e.g. the global state), and decides for every agent.

Decentralised kinds expose ``for_agent(agent)``, the single-agent ``Teacher`` that sees only
that agent's observation; a centralised teacher has none, which is why its students must learn
from logged decisions rather than by querying it with one agent's view. Outputs are validated
like a single teacher's (``hybrid.teachers.base.validate_proba``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.data.dataset import check_names
from hybrid.errors import TeacherError
from hybrid.spaces import DiscreteActions
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import Teacher, validate_proba
from provenance.hashing import hash_json

TEAM_KINDS = ("shared", "per_agent", "centralised")
JointFn = Callable[[np.ndarray], np.ndarray]  # concatenated observations [n, Σd] -> probabilities [n, n_agents, k]


class TeamTeacher:
    """Action probabilities for every agent of ``agents`` from their observations.

    Build one with :meth:`shared`, :meth:`per_agent`, :meth:`centralised` or
    :func:`as_team_teacher`. ``ops_per_decision`` is the multiply-adds of one agent's decision
    (the team's per step divided by the agents) when countable, else ``None``.
    """

    shared_policy: Any = None  # a committed parameter-shared team's one policy (hybrid.teachers.zoo), for timing and export

    def __init__(
        self,
        kind: str,
        agents: Sequence[str],
        action_names: Sequence[str] | None,
        *,
        members: Mapping[str, Teacher] | None = None,
        joint_fn: JointFn | None = None,
        identity: str = "team teacher",
        content_hash: str | None = None,
        ops_per_decision: float | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        if kind not in TEAM_KINDS:
            raise TeacherError(f"team teacher kind must be one of {TEAM_KINDS}; got {kind!r}")
        self.kind = kind
        self.agents = check_names(agents, "agents")
        self._action_names = None if action_names is None else check_names(action_names, "action_names")
        self.members = dict(members or {})
        self.joint_fn = joint_fn
        self.identity = identity
        self.content_hash = content_hash
        self.ops_per_decision = ops_per_decision
        self.feature_names = None if feature_names is None else list(feature_names)

    @property
    def name(self) -> str:
        """The teacher's name in reports and the ledger."""
        return self.identity

    def __repr__(self) -> str:
        return f"TeamTeacher({self.kind}, agents={list(self.agents)}, {self.identity})"

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def shared(cls, teacher: Any, agents: Sequence[str]) -> TeamTeacher:
        """One policy for every agent, each on its own observation."""
        t = _discrete(teacher)
        return cls(
            "shared",
            agents,
            None,  # read from the policy when needed: a batch callable names its actions on first call
            members={a: t for a in agents},
            identity=f"shared {t.identity}",
            content_hash=t.content_hash,
            ops_per_decision=t.ops_per_decision,
            feature_names=t.feature_names,
        )

    @classmethod
    def per_agent(cls, teachers: Mapping[str, Any]) -> TeamTeacher:
        """One policy per agent (all with the same action names), each on its own observation."""
        members = {a: _discrete(t) for a, t in teachers.items()}
        if not members:
            raise TeacherError("per_agent needs at least one agent's teacher, e.g. {'agent_0': t0, 'agent_1': t1}")
        names = {_names_or_none(m) for m in members.values()}
        if len(names) != 1:
            raise TeacherError(f"per-agent teachers name their actions differently ({sorted(map(str, names))}); a team teacher needs one set of action names")
        hashes = {a: m.content_hash for a, m in members.items()}
        ops = [m.ops_per_decision for m in members.values()]
        return cls(
            "per_agent",
            list(members),
            names.pop(),
            members=members,
            identity="per-agent " + ", ".join(f"{a}: {m.identity}" for a, m in members.items()),
            content_hash=None if None in hashes.values() else hash_json({"per_agent": hashes}),
            ops_per_decision=None if None in ops else float(np.mean([o for o in ops if o is not None])),
        )

    @classmethod
    def centralised(
        cls,
        joint_fn: JointFn,
        agents: Sequence[str],
        action_names: Sequence[str],
        *,
        identity: str = "centralised teacher",
        content_hash: str | None = None,
        ops_per_decision: float | None = None,
    ) -> TeamTeacher:
        """A teacher that sees every agent's observation (concatenated in ``agents`` order) and
        returns probabilities ``[n, n_agents, k]`` for all of them."""
        return cls("centralised", agents, action_names, joint_fn=joint_fn, identity=identity, content_hash=content_hash, ops_per_decision=ops_per_decision)

    # -- deciding --------------------------------------------------------------------------------
    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the actions, one set for every agent (a member's, once it has named them)."""
        if self._action_names is None:
            self._action_names = self.members[self.agents[0]].action_names
        return self._action_names

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    def for_agent(self, agent: str) -> Teacher:
        """The single-agent teacher that decides for ``agent`` from its own observation."""
        if self.kind == "centralised":
            raise TeacherError(
                f"{self.identity} is centralised: it decides from every agent's observation, so it has no one-agent view for {agent!r}; "
                "label joint observations with team_proba instead"
            )
        if agent not in self.members:
            raise TeacherError(f"{self.identity} has no policy for agent {agent!r}; its agents are {list(self.members)}")
        return self.members[agent]

    def team_proba(self, observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Probabilities ``{agent: [n, k]}`` from every agent's observations ``{agent: [n, d]}``."""
        missing = [a for a in self.agents if a not in observations]
        if missing:
            raise TeacherError(f"{self.identity} decides for {list(self.agents)} but got no observations of {missing}")
        obs = {a: np.asarray(observations[a], dtype=np.float32) for a in self.agents}
        n = len(next(iter(obs.values())))
        if self.kind != "centralised":
            return {a: self.members[a].predict_proba(obs[a]) for a in self.agents}
        assert self.joint_fn is not None
        joint = np.asarray(self.joint_fn(np.hstack([obs[a].reshape(n, -1) for a in self.agents])), dtype=np.float64)
        if joint.shape != (n, len(self.agents), self.n_actions):
            raise TeacherError(
                f"{self.identity} returned shape {joint.shape}; a centralised teacher returns [n, {len(self.agents)}, {self.n_actions}] probabilities"
            )
        return {a: validate_proba(joint[:, i], n, self.n_actions, self.identity) for i, a in enumerate(self.agents)}

    def team_predict(self, observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Greedy actions ``{agent: int64[n]}``."""
        return {a: p.argmax(axis=1) for a, p in self.team_proba(observations).items()}

    def decide(self, observations: Mapping[str, np.ndarray]) -> dict[str, int]:
        """Greedy actions for one step (each observation a 1-D array)."""
        return {a: int(x[0]) for a, x in self.team_predict({a: np.asarray(o).reshape(1, -1) for a, o in observations.items()}).items()}


def _names_or_none(teacher: Teacher) -> tuple[str, ...] | None:
    try:
        return teacher.action_names
    except TeacherError:  # a batch callable names its actions on its first call
        return None


def _discrete(teacher: Any) -> Teacher:
    t = as_teacher(teacher)
    if not issubclass(t.space_type, DiscreteActions):
        raise TeacherError(f"team teachers take discrete-action policies; {type(teacher).__name__} is {type(t).__name__}")
    return t


def as_team_teacher(obj: Any, agents: Sequence[str]) -> TeamTeacher:
    """Adapt ``obj`` for a team of ``agents``: a ``TeamTeacher`` as it is, a mapping
    ``{agent: teacher}`` as per-agent teachers, anything else ``as_teacher`` takes as a shared one."""
    if isinstance(obj, TeamTeacher):
        if set(obj.agents) != set(agents):
            raise TeacherError(f"{obj.identity} decides for agents {list(obj.agents)} but the team is {list(agents)}; use the team's teacher")
        return obj
    if isinstance(obj, Mapping):
        missing = sorted(set(agents) - set(obj))
        if missing:
            raise TeacherError(f"per-agent teachers given for {sorted(obj)} but the team also has {missing}; give one teacher per agent")
        return TeamTeacher.per_agent({a: obj[a] for a in agents})
    return TeamTeacher.shared(obj, agents)
