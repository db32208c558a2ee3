"""The committed team teachers, and a centralised planner for MPE's simple_spread.

``load_team_teacher("simple_spread_v3")`` is the parameter-shared PPO policy trained by
``examples/train_team_teacher.py``: plain float32 ``.npz`` weights in ``hybrid/teachers/weights/``
whose SHA-256 is checked against the team index ``teams.json`` before loading (no pickle, no
stable-baselines3), wrapped as a shared ``TeamTeacher``.

``spread_planner()`` is a *centralised* teacher for simple_spread, and it is not learned: it
reads every agent's observation (together they give all positions), assigns agents to landmarks
by the permutation with the least total distance (privileged, team-wide information no single
agent's policy is given), and moves each agent towards its landmark with a damped proportional
controller, choosing the discrete move best aligned with the desired acceleration.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import TeacherError
from hybrid.teachers.team import TeamTeacher
from hybrid.teachers.zoo import ZOO_DIR, PolicyTeacher, load_teacher, read_index
from provenance.hashing import hash_json

TEAM_INDEX = "teams.json"
SPREAD_ACTIONS = ("no_action", "move_left", "move_right", "move_down", "move_up")
_SPREAD_N = 3
TEAM_TEACHERS: dict[str, dict[str, Any]] = {
    "simple_spread_v3": {
        "agents": [f"agent_{i}" for i in range(_SPREAD_N)],
        "action_names": list(SPREAD_ACTIONS),
        "feature_names": ["self_vel_x", "self_vel_y", "self_pos_x", "self_pos_y"]
        + [f"landmark_{j}_{c}" for j in range(_SPREAD_N) for c in ("dx", "dy")]
        + [f"other_{k}_{c}" for k in range(_SPREAD_N - 1) for c in ("dx", "dy")]
        + [f"comm_{k}_{c}" for k in range(_SPREAD_N - 1) for c in ("0", "1")],
        "env_kwargs": {"N": _SPREAD_N, "max_cycles": 25, "continuous_actions": False},
    }
}


def available_team_teachers(directory: Path | str | None = None) -> list[str]:
    """Team environment ids with a committed teacher."""
    return sorted(read_index(directory, TEAM_INDEX))


def load_team_teacher(env_id: str, directory: Path | str | None = None) -> TeamTeacher:
    """The committed shared team teacher of ``env_id`` (its file's SHA-256 checked first); the
    underlying per-agent policy is ``.shared_policy``."""
    index = read_index(directory, TEAM_INDEX)
    if env_id not in index:
        raise TeacherError(
            f"no committed team teacher for {env_id!r}; known: {sorted(index) or 'none'}. Train one with `python examples/train_team_teacher.py`"
        )
    policy = load_teacher(env_id, directory or ZOO_DIR, index_name=TEAM_INDEX)
    assert isinstance(policy, PolicyTeacher)
    team = TeamTeacher.shared(policy, index[env_id]["agents"])
    team.identity = f"parameter-shared PPO ({env_id})"
    team.shared_policy = policy  # the torch policy itself, for timing and export
    return team


def _spread_positions(joint: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Velocities ``[m, n, 2]``, positions ``[m, n, 2]`` and landmarks ``[m, n, 2]`` from
    concatenated simple_spread observations (layout: vel, pos, landmarks, others, comm)."""
    d = 4 + 2 * n + 4 * (n - 1)
    obs = joint.reshape(len(joint), n, d)
    vel, pos = obs[:, :, 0:2], obs[:, :, 2:4]
    landmarks = pos[:, :1, :] + obs[:, 0, 4 : 4 + 2 * n].reshape(len(joint), n, 2)  # agent 0's view, made absolute
    return vel, pos, landmarks


def spread_planner(n_agents: int = _SPREAD_N, *, gain: float = 2.0, damping: float = 1.0, temperature: float = 0.1) -> TeamTeacher:
    """The centralised simple_spread teacher described in the module docstring.

    Probabilities are a softmax over each move's alignment with the desired acceleration
    (``temperature`` sets how sharp), so the greedy action is the best-aligned move.
    """
    moves = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    perms = np.array(list(itertools.permutations(range(n_agents))))  # agent i → landmark perm[i]

    def joint_fn(joint: np.ndarray) -> np.ndarray:
        vel, pos, landmarks = _spread_positions(np.asarray(joint, dtype=np.float64), n_agents)
        dist = np.linalg.norm(pos[:, :, None, :] - landmarks[:, None, :, :], axis=-1)  # [m, agent, landmark]
        cost = dist[:, np.arange(n_agents)[None, :], perms].sum(axis=-1)  # [m, perms]
        target = landmarks[np.arange(len(joint))[:, None], perms[cost.argmin(axis=1)]]  # [m, agent, 2]
        desired = gain * (target - pos) - damping * vel
        score = desired @ moves.T  # [m, agent, 5]; no_action scores 0
        z = score / temperature
        z -= z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=-1, keepdims=True)

    settings = {"planner": "simple_spread assignment + damped P control", "n_agents": n_agents, "gain": gain, "damping": damping, "temperature": temperature}
    return TeamTeacher.centralised(
        joint_fn,
        [f"agent_{i}" for i in range(n_agents)],
        SPREAD_ACTIONS,
        identity=f"centralised simple_spread planner (gain {gain}, damping {damping})",
        content_hash=hash_json(settings),
        ops_per_decision=None,
    )
