"""The committed teachers: single-agent policies read from ``index.json`` and team teachers read
from ``teams.json``, both in ``hybrid/teachers/weights/``.

Single-agent: PPO policies for CartPole-v1, Acrobot-v1 and LunarLander-v3 (``PolicyTeacher``) and
SAC policies for the continuous-action Pendulum-v1, MountainCarContinuous-v0 and LunarLander-v3
(``continuous=True``, zoo id ``LunarLanderContinuous-v3``; ``ContinuousPolicyTeacher``). Each is
the policy half of a stable-baselines3 ``MlpPolicy``, exported by ``examples/train_teachers.py``
or ``examples/train_continuous_teachers.py`` as plain float32 arrays in ``<EnvId>.npz``. Loading
needs neither pickle nor SB3: the arrays become a ``Linear`` stack, and the file's SHA-256 is
checked against the index first, so a teacher that was swapped or corrupted is refused instead
of silently distilled. Any observation normaliser used in training is already folded into the
first layer: a teacher takes raw environment states. Each declares its ``action_space``.

Teams: ``load_team_teacher("simple_spread_v3")`` is the parameter-shared PPO policy trained by
``examples/train_team_teacher.py`` (same file format, checked against ``teams.json``), wrapped as
a shared ``TeamTeacher``. ``spread_planner()`` is a *centralised* teacher for simple_spread, and it
is not learned: it reads every agent's observation (together they give all positions), assigns
agents to landmarks by the permutation with the least total distance (privileged, team-wide
information no single agent's policy is given), and moves each agent towards its landmark with a
damped proportional controller, choosing the discrete move best aligned with the desired
acceleration.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hybrid.errors import DataError, TeacherError
from hybrid.spaces import BoxActions, DiscreteActions
from hybrid.teachers.team import TeamTeacher
from provenance.hashing import hash_file, hash_json

ZOO_DIR = Path(__file__).resolve().parent / "weights"
INDEX_NAME = "index.json"


CRITIC_PREFIX = "critic."  # arrays of an exported SAC/TD3 Q-network: critic.layer{i}.weight/bias


def layer_keys(i: int) -> tuple[str, str]:
    """Names of the weight and bias arrays of the ``i``-th Linear layer in a teacher ``.npz``."""
    return f"layer{i}.weight", f"layer{i}.bias"


class PolicyTeacher(nn.Module):
    """A discrete-action MLP policy: Linear layers with tanh between them, ending in logits.

    ``forward`` returns logits; the deterministic action is their argmax and the action
    probabilities are their softmax, exactly as SB3's categorical distribution computes them.
    The numpy methods take states ``[n, n_features]`` (a single state ``[n_features]`` is read
    as one row) and check their width and finiteness once, at this boundary.
    """

    def __init__(
        self,
        layers: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        env_id: str,
        action_names: Sequence[str],
        feature_names: Sequence[str],
        content_hash: str | None = None,
    ) -> None:
        super().__init__()
        if not layers:
            raise TeacherError(f"teacher {env_id!r} has no layers; re-export it with train_teachers.py")
        modules: list[nn.Module] = []
        for i, (weight, bias) in enumerate(layers):
            if i and np.shape(weight)[1] != np.shape(layers[i - 1][0])[0]:
                raise TeacherError(
                    f"teacher {env_id!r} layer {i} takes {np.shape(weight)[1]} inputs but the previous layer gives {np.shape(layers[i - 1][0])[0]}"
                )
            modules += [_linear(env_id, i, weight, bias), nn.Tanh()]
        self.net = nn.Sequential(*modules[:-1])  # no activation after the logits
        self.net.requires_grad_(False)
        self.eval()
        n_in, n_out = layers[0][0].shape[1], layers[-1][0].shape[0]
        if len(feature_names) != n_in or len(action_names) != n_out:
            raise TeacherError(
                f"teacher {env_id!r} maps {n_in} features to {n_out} actions but names "
                f"{len(feature_names)} features and {len(action_names)} actions; fix index.json"
            )
        self.env_id = env_id
        self.action_names = list(action_names)
        self.feature_names = list(feature_names)
        self.content_hash = content_hash

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], **meta: Any) -> PolicyTeacher:
        """Build from ``layer{i}.weight`` / ``layer{i}.bias`` arrays (the ``.npz`` layout)."""
        return cls(_layers(arrays), **meta)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input first."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    @property
    def action_space(self) -> DiscreteActions:
        """The policy's actions, one of ``action_names`` per decision."""
        return DiscreteActions(self.action_names)

    @property
    def ops_per_decision(self) -> int:
        """Multiply-adds of one decision: ``in * out`` summed over the Linear layers."""
        return sum(m.in_features * m.out_features for m in self.linears)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Action logits for a batch of raw states ``[n, n_features]``."""
        return self.net(x)

    def _logits(self, X: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return self.forward(_states_tensor(X, self.env_id, self.feature_names))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Action probabilities ``[n, n_actions]`` (float32, rows sum to 1)."""
        return torch.softmax(self._logits(X), dim=1).numpy()

    def log_proba(self, X: np.ndarray) -> np.ndarray:
        """Log-probabilities; with a policy-gradient teacher they stand in for Q-values (VIPER)."""
        return torch.log_softmax(self._logits(X), dim=1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Deterministic actions (argmax of the logits) as int64 indices into ``action_names``."""
        return self._logits(X).argmax(dim=1).numpy()


def read_index(directory: Path | str | None = None, index_name: str = INDEX_NAME) -> dict[str, Any]:
    """The zoo's ``index.json`` (or another index, e.g. the team index ``teams.json``) as a dict
    keyed by environment id (empty when there is none)."""
    path = Path(directory or ZOO_DIR) / index_name
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["teachers"]


def available_teachers(directory: Path | str | None = None, action_kind: str | None = None) -> list[str]:
    """Environment ids with a committed teacher, sorted; only those of ``action_kind``
    (``"discrete"`` or ``"continuous"``) when given."""
    index = read_index(directory)
    return sorted(e for e, entry in index.items() if action_kind is None or entry.get("action_kind", "discrete") == action_kind)


def teacher_world(zoo_id: str, directory: Path | str | None = None) -> tuple[str, dict[str, Any]]:
    """The gymnasium id and ``gym.make`` keyword arguments a zoo teacher was trained in: a
    variant such as ``LunarLander-v3-wind15`` records its own (``env_id``, ``env_kwargs``)."""
    index = read_index(directory)
    if zoo_id not in index:
        raise TeacherError(f"no committed teacher {zoo_id!r}; known teachers: {', '.join(sorted(index)) or 'none'}")
    entry = index[zoo_id]
    return str(entry.get("env_id", zoo_id)), dict(entry.get("env_kwargs", {}))


def load_teacher(env_id: str, directory: Path | str | None = None, *, index_name: str = INDEX_NAME) -> PolicyTeacher | ContinuousPolicyTeacher:
    """Load the committed teacher for ``env_id`` after checking its file's SHA-256.

    Raises ``TeacherError`` when the environment has no teacher (naming those that exist) or
    when the weights file does not match the hash recorded in ``index.json``.
    """
    directory = Path(directory or ZOO_DIR)
    index = read_index(directory, index_name)
    if env_id not in index:
        known = ", ".join(sorted(index)) or "none"
        raise TeacherError(f"no committed teacher for {env_id!r}; known teachers: {known}. Train one with `python examples/train_teachers.py --env {env_id}`")
    entry = index[env_id]
    path = directory / entry["file"]
    if not path.exists():
        raise TeacherError(f"teacher file {path} listed in index.json is missing; reinstall or retrain")
    actual = hash_file(path)
    if actual != entry["sha256"]:
        raise TeacherError(
            f"teacher file {path} has {actual} but index.json records {entry['sha256']}: the "
            "weights were changed after export; restore the committed file or retrain"
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    build = _BUILDERS[entry.get("action_kind", DiscreteActions.kind)]
    return build(arrays, env_id=env_id, action_names=entry["action_names"], feature_names=entry["feature_names"], content_hash=actual, entry=entry)


class ContinuousPolicyTeacher(nn.Module):
    """A continuous-action MLP policy: hidden Linear layers, then the mean action, bounded.

    Two heads cover SB3's actors: ``squash="tanh"`` (SAC/TD3: ``tanh`` of the mean, optionally
    clipped to ``±clip_mean`` first as SAC does with gSDE, then scaled to ``[low, high]``) and
    ``squash="clip"`` (PPO/A2C: the Gaussian mean clipped to the bounds, as SB3 clips before
    stepping). The deterministic action is the distribution's mode. An optional ``log_std``
    (a vector for PPO, a Linear head on the last hidden layer for SAC) gives ``action_std``,
    used to weight states where the teacher is sure of its action. An optional ``critic`` (the
    ReLU layers of a SAC/TD3 Q-network on ``[state, action scaled to -1..1]``) gives
    ``action_values``, used to weight states by how much the action matters (VIPER).
    """

    def __init__(
        self,
        layers: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        env_id: str,
        action_names: Sequence[str],
        feature_names: Sequence[str],
        action_low: Sequence[float] | np.ndarray,
        action_high: Sequence[float] | np.ndarray,
        activation: str = "relu",
        squash: str = "tanh",
        clip_mean: float | None = None,
        log_std: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
        critic: Sequence[tuple[np.ndarray, np.ndarray]] = (),
        content_hash: str | None = None,
    ) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in acts or squash not in ("tanh", "clip"):
            raise TeacherError(
                f"teacher {env_id!r}: activation {activation!r} / squash {squash!r} unknown; use activation relu|tanh and squash tanh|clip in index.json"
            )
        modules: list[nn.Module] = []
        for i, (weight, bias) in enumerate(layers):
            modules += [_linear(env_id, i, weight, bias), acts[activation]()]
        if not modules:
            raise TeacherError(f"teacher {env_id!r} has no layers; re-export it")
        self.hidden = nn.Sequential(*modules[:-2])
        self.mean = modules[-2]
        self.requires_grad_(False)
        low = np.asarray(action_low, dtype=np.float32).ravel()
        high = np.asarray(action_high, dtype=np.float32).ravel()
        n_in, n_out = self.linears[0].in_features, self.mean.out_features
        if (
            len(feature_names) != n_in
            or len(action_names) != n_out
            or low.shape != (n_out,)
            or high.shape != (n_out,)
            or not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all())
        ):
            raise TeacherError(
                f"teacher {env_id!r} maps {n_in} features to {n_out} actions but names "
                f"{len(feature_names)} features, {len(action_names)} actions and bounds "
                f"{low.tolist()}..{high.tolist()}; fix index.json (finite bounds, high > low)"
            )
        self.log_std_head: nn.Linear | None = None
        self.log_std_const: torch.Tensor | None = None
        if isinstance(log_std, tuple):
            self.log_std_head = _linear(env_id, len(layers), *log_std)
        elif log_std is not None:
            self.log_std_const = torch.as_tensor(np.asarray(log_std, dtype=np.float32).ravel())
        self.critic = _critic(env_id, critic, int(n_in) + int(n_out))
        self.env_id, self.activation, self.squash, self.clip_mean = env_id, activation, squash, clip_mean
        self.action_names = list(action_names)
        self.feature_names = list(feature_names)
        self.action_low, self.action_high = low, high
        self.content_hash = content_hash
        self.eval()

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], **meta: Any) -> ContinuousPolicyTeacher:
        """Build from the ``.npz`` layout: ``layer{i}.*``, ``action_low/high`` and an optional log-std."""
        layers = _layers(arrays)
        log_std: Any = None
        if "log_std.weight" in arrays:
            log_std = (arrays["log_std.weight"], arrays["log_std.bias"])
        elif "log_std" in arrays:
            log_std = arrays["log_std"]
        critic = _layers(arrays, CRITIC_PREFIX)
        return cls(layers, action_low=arrays["action_low"], action_high=arrays["action_high"], log_std=log_std, critic=critic, **meta)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers of the mean path, input first."""
        return [m for m in [*self.hidden, self.mean] if isinstance(m, nn.Linear)]

    @property
    def action_space(self) -> BoxActions:
        """The policy's bounded action dimensions."""
        return BoxActions(self.action_names, self.action_low, self.action_high)

    @property
    def ops_per_decision(self) -> int:
        """Multiply-adds of one deterministic decision (the mean path; the std is not needed to act)."""
        return sum(m.in_features * m.out_features for m in self.linears)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic actions ``[n, n_actions]`` within the bounds, for raw states."""
        mu = self.mean(self.hidden(x))
        low, high = torch.from_numpy(self.action_low), torch.from_numpy(self.action_high)
        if self.squash == "clip":
            return torch.clamp(mu, low, high)
        if self.clip_mean:
            mu = torch.clamp(mu, -self.clip_mean, self.clip_mean)
        return low + 0.5 * (torch.tanh(mu) + 1.0) * (high - low)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return _states_tensor(X, self.env_id, self.feature_names)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Deterministic actions ``[n, n_actions]`` (float32), each within its bounds."""
        with torch.no_grad():
            return self.forward(self._tensor(X)).numpy()

    @property
    def has_critic(self) -> bool:
        """Whether the export carries its Q-network (``action_values`` answers)."""
        return self.critic is not None

    def action_values(self, X: np.ndarray, A: np.ndarray) -> np.ndarray | None:
        """The critic's ``Q(s, a)`` ``[n]`` for raw states and actions within the bounds, or ``None``."""
        if self.critic is None:
            return None
        low, high = self.action_low, self.action_high
        scaled = 2.0 * (np.asarray(A, dtype=np.float32).reshape(len(X), -1) - low) / (high - low) - 1.0
        with torch.no_grad():
            return self.critic(torch.cat([self._tensor(X), torch.from_numpy(scaled.astype(np.float32))], dim=1)).numpy().reshape(-1)

    def action_std(self, X: np.ndarray) -> np.ndarray | None:
        """Per-dimension std of the teacher's action ``[n, n_actions]`` in action units, or ``None``.

        For a tanh-squashed policy the Gaussian std is carried through the squash to first
        order (``std · (1 - tanh(mu)²) · half-range``), which is what matters for weighting.
        """
        if self.log_std_head is None and self.log_std_const is None:
            return None
        with torch.no_grad():
            x = self._tensor(X)
            latent = self.hidden(x)
            if self.log_std_head is not None:
                std = torch.exp(torch.clamp(self.log_std_head(latent), -20.0, 2.0))
            else:
                assert self.log_std_const is not None
                std = torch.exp(self.log_std_const).expand(len(x), -1)
            if self.squash == "tanh":
                mu = self.mean(latent)
                if self.clip_mean:
                    mu = torch.clamp(mu, -self.clip_mean, self.clip_mean)
                half = torch.from_numpy((self.action_high - self.action_low) / 2)
                std = std * (1.0 - torch.tanh(mu) ** 2) * half
            return std.numpy().astype(np.float32)


def _states_tensor(X: Any, env_id: str, feature_names: Sequence[str]) -> torch.Tensor:
    """Raw states ``[n, d]`` (one state ``[d]`` is one row) as a float32 tensor, checked once at the
    boundary: as wide as the teacher's features and finite."""
    X = np.asarray(X, dtype=np.float32)
    X = X[None, :] if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise DataError(f"X has shape {X.shape}; teacher {env_id!r} takes [n, {len(feature_names)}] states ({', '.join(feature_names)})")
    if not np.isfinite(X).all():
        raise DataError("X contains NaN or infinity; pass finite environment states")
    return torch.as_tensor(X) if X.flags.writeable else torch.tensor(X)  # torch refuses read-only buffers (a dataset's X)


def _linear(env_id: str, i: int, weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    """One frozen Linear layer from ``[out, in]`` weights and ``[out]`` bias, shape-checked."""
    weight = np.asarray(weight, dtype=np.float32)
    bias = np.asarray(bias, dtype=np.float32)
    if weight.ndim != 2 or bias.shape != (weight.shape[0],):
        raise TeacherError(
            f"teacher {env_id!r} layer {i}: weight {weight.shape} and bias {bias.shape} do not form a Linear layer (weight is [out, in], bias is [out])"
        )
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
    return linear


def _layers(arrays: Mapping[str, np.ndarray], prefix: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(weight, bias)`` pairs ``{prefix}layer{i}.weight`` / ``.bias`` of a teacher ``.npz``, input first."""
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    while prefix + layer_keys(len(layers))[0] in arrays:
        w_key, b_key = (prefix + k for k in layer_keys(len(layers)))
        if b_key not in arrays:
            raise TeacherError(f"teacher arrays have {w_key} but no {b_key}; re-export it")
        layers.append((arrays[w_key], arrays[b_key]))
    return layers


def _critic(env_id: str, layers: Sequence[tuple[np.ndarray, np.ndarray]], n_in: int) -> nn.Sequential | None:
    """A frozen ReLU Q-network ``[state, action] -> Q`` from its layers, or ``None`` without any."""
    if not layers:
        return None
    linears = [_linear(f"{env_id} critic", i, w, b) for i, (w, b) in enumerate(layers)]
    if linears[0].in_features != n_in or linears[-1].out_features != 1:
        raise TeacherError(
            f"teacher {env_id!r}: its critic maps {linears[0].in_features} inputs to {linears[-1].out_features} but needs state + action = {n_in} inputs and one Q-value; re-export it"
        )
    modules: list[nn.Module] = []
    for m in linears:
        modules += [m, nn.ReLU()]
    return nn.Sequential(*modules[:-1]).requires_grad_(False).eval()


def _discrete_policy(arrays: Mapping[str, np.ndarray], *, entry: Mapping[str, Any], **meta: Any) -> PolicyTeacher:
    return PolicyTeacher.from_arrays(arrays, **meta)


def _box_policy(arrays: Mapping[str, np.ndarray], *, entry: Mapping[str, Any], **meta: Any) -> ContinuousPolicyTeacher:
    return ContinuousPolicyTeacher.from_arrays(
        arrays, activation=entry.get("activation", "relu"), squash=entry.get("squash", "tanh"), clip_mean=entry.get("clip_mean"), **meta
    )


_BUILDERS: dict[str, Callable[..., PolicyTeacher | ContinuousPolicyTeacher]] = {
    DiscreteActions.kind: _discrete_policy,
    BoxActions.kind: _box_policy,
}  # by an index entry's action_kind


# -- team teachers ---------------------------------------------------------------------------------
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
