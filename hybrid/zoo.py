"""The committed neural teachers: PPO policies for CartPole-v1, Acrobot-v1 and LunarLander-v3.

Each teacher is the policy half of a stable-baselines3 PPO ``MlpPolicy`` (two 64-unit tanh
layers, then the action logits), exported by ``examples/train_teachers.py`` as plain float32
arrays in ``hybrid/teachers_zoo/<EnvId>.npz``. Loading needs neither pickle nor SB3: the arrays
become a ``Linear``/``Tanh`` stack, and the file's SHA-256 is checked against
``hybrid/teachers_zoo/index.json`` first, so a teacher that was swapped or corrupted is refused
instead of silently distilled. Any observation normaliser used in training is already folded
into the first layer: a teacher takes raw environment states.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hybrid.errors import DataError, TeacherError
from provenance.hashing import hash_file

ZOO_DIR = Path(__file__).resolve().parent / "teachers_zoo"
INDEX_NAME = "index.json"


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
            weight = np.asarray(weight, dtype=np.float32)
            bias = np.asarray(bias, dtype=np.float32)
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise TeacherError(
                    f"teacher {env_id!r} layer {i}: weight {weight.shape} and bias {bias.shape} "
                    "do not form a Linear layer (weight is [out, in], bias is [out])"
                )
            if i and weight.shape[1] != layers[i - 1][0].shape[0]:
                raise TeacherError(
                    f"teacher {env_id!r} layer {i} takes {weight.shape[1]} inputs but the "
                    f"previous layer gives {layers[i - 1][0].shape[0]}"
                )
            linear = nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(weight))
                linear.bias.copy_(torch.from_numpy(bias))
            modules += [linear, nn.Tanh()]
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
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], **meta: Any) -> "PolicyTeacher":
        """Build from ``layer{i}.weight`` / ``layer{i}.bias`` arrays (the ``.npz`` layout)."""
        layers = []
        while layer_keys(len(layers))[0] in arrays:
            w_key, b_key = layer_keys(len(layers))
            if b_key not in arrays:
                raise TeacherError(f"teacher arrays have {w_key} but no {b_key}; re-export it")
            layers.append((arrays[w_key], arrays[b_key]))
        return cls(layers, **meta)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input first."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    @property
    def ops_per_decision(self) -> int:
        """Multiply-adds of one decision: ``in * out`` summed over the Linear layers."""
        return sum(m.in_features * m.out_features for m in self.linears)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Action logits for a batch of raw states ``[n, n_features]``."""
        return self.net(x)

    def _logits(self, X: np.ndarray) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise DataError(
                f"X has shape {X.shape}; teacher {self.env_id!r} takes [n, "
                f"{len(self.feature_names)}] states ({', '.join(self.feature_names)})"
            )
        if not np.isfinite(X).all():
            raise DataError("X contains NaN or infinity; pass finite environment states")
        with torch.no_grad():
            # torch.as_tensor copies read-only arrays (a dataset's X) instead of warning about them
            return self.forward(torch.as_tensor(X) if X.flags.writeable else torch.tensor(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Action probabilities ``[n, n_actions]`` (float32, rows sum to 1)."""
        return torch.softmax(self._logits(X), dim=1).numpy()

    def log_proba(self, X: np.ndarray) -> np.ndarray:
        """Log-probabilities; with a policy-gradient teacher they stand in for Q-values (VIPER)."""
        return torch.log_softmax(self._logits(X), dim=1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Deterministic actions (argmax of the logits) as int64 indices into ``action_names``."""
        return self._logits(X).argmax(dim=1).numpy()


def read_index(directory: Path | str | None = None) -> dict[str, Any]:
    """The zoo's ``index.json`` as a dict keyed by environment id (empty when there is none)."""
    path = Path(directory or ZOO_DIR) / INDEX_NAME
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["teachers"]


def available_teachers(directory: Path | str | None = None) -> list[str]:
    """Environment ids with a committed teacher, sorted."""
    return sorted(read_index(directory))


def load_teacher(env_id: str, directory: Path | str | None = None) -> PolicyTeacher:
    """Load the committed teacher for ``env_id`` after checking its file's SHA-256.

    Raises ``TeacherError`` when the environment has no teacher (naming those that exist) or
    when the weights file does not match the hash recorded in ``index.json``.
    """
    directory = Path(directory or ZOO_DIR)
    index = read_index(directory)
    if env_id not in index:
        known = ", ".join(sorted(index)) or "none"
        raise TeacherError(
            f"no committed teacher for {env_id!r}; known teachers: {known}. Train one with "
            f"`python examples/train_teachers.py --env {env_id}`"
        )
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
    return PolicyTeacher.from_arrays(
        arrays,
        env_id=env_id,
        action_names=entry["action_names"],
        feature_names=entry["feature_names"],
        content_hash=actual,
    )
