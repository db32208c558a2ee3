"""Team teachers: decisions for every agent of a team, behind one contract.

A ``TeamTeacher`` maps the observations of every agent at ``n`` steps, ``{agent: X[n, d]}``,
to each agent's targets, ``{agent: T[n, k]}``: action probabilities for discrete actions,
action vectors ``[n, m]`` for a ``Box`` (``action_space`` says which). Three kinds, one contract:

- **shared** — one ``Teacher`` applied to each agent's own observation (parameter sharing);
- **per_agent** — one ``Teacher`` per agent, each on its own observation;
- **centralised** — one function that sees every agent's observation, concatenated in team
  order (or anything computed from them, e.g. the global state), and decides for every agent.

Decentralised kinds expose ``for_agent(agent)``, the single-agent ``Teacher`` that sees only
that agent's observation; a centralised teacher has none, which is why its students must learn
from logged decisions rather than by querying it with one agent's view. Outputs are checked by
the action space (``ActionSpace.check_targets``).

``spread_controller()`` is a centralised teacher for MPE's simple_spread with continuous
actions: each agent is assigned a landmark (the permutation of least total distance) and pushed
towards it by a damped proportional controller.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.data.dataset import check_names
from hybrid.errors import DataError, TeacherError
from hybrid.spaces import ActionSpace, BoxActions, DiscreteActions, action_space_of
from hybrid.teachers.adapters import as_teacher
from provenance.hashing import hash_json

TEAM_KINDS = ("shared", "per_agent", "centralised")
JointFn = Callable[[np.ndarray], np.ndarray]  # concatenated observations [n, Σd] -> targets [n, n_agents, k or m]


class TeamTeacher:
    """Targets (probabilities or action vectors) for every agent of ``agents`` from their observations.

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
        members: Mapping[str, Any] | None = None,
        joint_fn: JointFn | None = None,
        identity: str = "team teacher",
        content_hash: str | None = None,
        ops_per_decision: float | None = None,
        feature_names: Sequence[str] | None = None,
        action_space: ActionSpace | None = None,
    ) -> None:
        if kind not in TEAM_KINDS:
            raise TeacherError(f"team teacher kind must be one of {TEAM_KINDS}; got {kind!r}")
        self.kind = kind
        self.agents = check_names(agents, "agents")
        self._space = action_space if action_space is not None or action_names is None else DiscreteActions(check_names(action_names, "action_names"))
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
    def shared(cls, teacher: Any, agents: Sequence[str], *, action_space: Any = None) -> TeamTeacher:
        """One policy for every agent, each on its own observation (``action_space``: the agents'
        gymnasium space, which a plain callable needs to act in a ``Box``)."""
        t = _member(teacher, action_space)
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
    def per_agent(cls, teachers: Mapping[str, Any], *, action_space: Any = None) -> TeamTeacher:
        """One policy per agent (all with the same action names), each on its own observation."""
        members = {a: _member(t, action_space) for a, t in teachers.items()}
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
            None,  # the members' action space, read when needed
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
        action_space: Any = None,
    ) -> TeamTeacher:
        """A teacher that sees every agent's observation (concatenated in ``agents`` order) and
        returns targets for all of them: probabilities ``[n, n_agents, k]``, or actions
        ``[n, n_agents, m]`` given a ``Box`` ``action_space`` (a gymnasium space or ``BoxActions``)."""
        space = None if action_space is None else action_space_of(action_space, action_names)
        return cls(
            "centralised",
            agents,
            action_names,
            joint_fn=joint_fn,
            identity=identity,
            content_hash=content_hash,
            ops_per_decision=ops_per_decision,
            action_space=space,
        )

    # -- deciding --------------------------------------------------------------------------------
    @property
    def action_space(self) -> ActionSpace:
        """The agents' action space, one for every agent (a member's, once it has named its actions)."""
        if self._space is None:
            self._space = action_space_of(self.members[self.agents[0]])
        return self._space

    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the actions (or action dimensions), one set for every agent."""
        return self.action_space.names

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    def for_agent(self, agent: str) -> Any:
        """The single-agent teacher that decides for ``agent`` from its own observation."""
        if self.kind == "centralised":
            raise TeacherError(
                f"{self.identity} is centralised: it decides from every agent's observation, so it has no one-agent view for {agent!r}; "
                "label joint observations with team_targets instead"
            )
        if agent not in self.members:
            raise TeacherError(f"{self.identity} has no policy for agent {agent!r}; its agents are {list(self.members)}")
        return self.members[agent]

    def team_targets(self, observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Targets ``{agent: [n, k]}`` (probabilities; a ``Box``: actions ``[n, m]``) from every
        agent's observations ``{agent: [n, d]}``."""
        missing = [a for a in self.agents if a not in observations]
        if missing:
            raise TeacherError(f"{self.identity} decides for {list(self.agents)} but got no observations of {missing}")
        obs = {a: np.asarray(observations[a], dtype=np.float32) for a in self.agents}
        n = len(next(iter(obs.values())))
        if self.kind != "centralised":
            return {a: self.members[a].targets(obs[a]) for a in self.agents}
        assert self.joint_fn is not None
        space = self.action_space
        joint = np.asarray(self.joint_fn(np.hstack([obs[a].reshape(n, -1) for a in self.agents])), dtype=np.float64)
        if joint.shape != (n, len(self.agents), space.n):
            raise TeacherError(f"{self.identity} returned shape {joint.shape}; a centralised teacher returns [n, {len(self.agents)}, {space.n}] targets")
        try:
            return {a: space.check_targets(joint[:, i], n, what=f"{self.identity}'s targets for {a}") for i, a in enumerate(self.agents)}
        except DataError as e:
            raise TeacherError(str(e)) from None

    team_proba = team_targets  # the discrete name: targets are probabilities there

    def team_predict(self, observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Greedy actions ``{agent: int64[n]}`` (a ``Box``: ``float32[n, m]``)."""
        targets = self.team_targets(observations)  # first: a batch callable names its actions on its first call
        space = self.action_space
        return {a: space.greedy(t) for a, t in targets.items()}

    def decide(self, observations: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Greedy actions for one step (each observation a 1-D array), as the environment takes them."""
        chosen = self.team_predict({a: np.asarray(o).reshape(1, -1) for a, o in observations.items()})
        return {a: self.action_space.env_action(x[0]) for a, x in chosen.items()}


def _names_or_none(teacher: Any) -> tuple[str, ...] | None:
    try:
        return tuple(teacher.action_names)
    except TeacherError:  # a batch callable names its actions on its first call
        return None


def _member(teacher: Any, action_space: Any) -> Any:
    t = as_teacher(teacher, action_space=action_space)
    if not callable(getattr(t, "targets", None)) or getattr(t, "state_kind", None) == "record":
        raise TeacherError(f"team teachers take policies of numeric observations; {type(teacher).__name__} is {type(t).__name__}")
    return t


def as_team_teacher(obj: Any, agents: Sequence[str], action_space: Any = None) -> TeamTeacher:
    """Adapt ``obj`` for a team of ``agents``: a ``TeamTeacher`` as it is, a mapping
    ``{agent: teacher}`` as per-agent teachers, anything else ``as_teacher`` takes as a shared one
    (``action_space``: the agents' gymnasium space, which a plain callable needs to act in a ``Box``)."""
    if isinstance(obj, TeamTeacher):
        if set(obj.agents) != set(agents):
            raise TeacherError(f"{obj.identity} decides for agents {list(obj.agents)} but the team is {list(agents)}; use the team's teacher")
        return obj
    if isinstance(obj, Mapping):
        missing = sorted(set(agents) - set(obj))
        if missing:
            raise TeacherError(f"per-agent teachers given for {sorted(obj)} but the team also has {missing}; give one teacher per agent")
        return TeamTeacher.per_agent({a: obj[a] for a in agents}, action_space=action_space)
    return TeamTeacher.shared(obj, agents, action_space=action_space)


SPREAD_MOVES = ("no_action", "move_left", "move_right", "move_down", "move_up")  # mpe2's action vector, each in [0, 1]


def spread_controller(n_agents: int = 3, *, gain: float = 2.0, damping: float = 1.0) -> TeamTeacher:
    """A centralised teacher for simple_spread with continuous actions (``continuous_actions=True``).

    From every agent's observation (layout: own velocity, own position, landmarks relative to
    it, others, communication) it assigns agents to landmarks by the permutation of least total
    distance and sets each agent's push to the damped proportional control
    ``gain × (landmark − position) − damping × velocity``, split into mpe2's five non-negative
    components (the force along x is ``move_right − move_left``) and clipped to ``[0, 1]``.
    """
    perms = np.array(list(itertools.permutations(range(n_agents))))  # agent i → landmark perm[i]
    width = 4 + 2 * n_agents + 4 * (n_agents - 1)

    def joint_fn(joint: np.ndarray) -> np.ndarray:
        obs = np.asarray(joint, dtype=np.float64).reshape(len(joint), n_agents, width)
        vel, pos = obs[:, :, 0:2], obs[:, :, 2:4]
        landmarks = pos[:, :1, :] + obs[:, 0, 4 : 4 + 2 * n_agents].reshape(len(joint), n_agents, 2)  # agent 0's view, made absolute
        dist = np.linalg.norm(pos[:, :, None, :] - landmarks[:, None, :, :], axis=-1)  # [m, agent, landmark]
        cost = dist[:, np.arange(n_agents)[None, :], perms].sum(axis=-1)  # [m, perms]
        target = landmarks[np.arange(len(joint))[:, None], perms[cost.argmin(axis=1)]]  # [m, agent, 2]
        push = gain * (target - pos) - damping * vel
        zero = np.zeros(push.shape[:2])
        actions = np.stack([zero, -push[..., 0], push[..., 0], -push[..., 1], push[..., 1]], axis=-1)
        return np.clip(actions, 0.0, 1.0)

    settings = {"controller": "simple_spread assignment + damped P control, continuous", "n_agents": n_agents, "gain": gain, "damping": damping}
    return TeamTeacher.centralised(
        joint_fn,
        [f"agent_{i}" for i in range(n_agents)],
        SPREAD_MOVES,
        identity=f"centralised simple_spread controller (gain {gain}, damping {damping})",
        content_hash=hash_json(settings),
        action_space=BoxActions(SPREAD_MOVES, np.zeros(5), np.ones(5)),
    )
