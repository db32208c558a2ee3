"""``DistillDataset``: states, the teacher's targets there, optional weights, and names.

The target's *action kind* is fixed per dataset: ``"discrete"`` (``P`` holds the teacher's
action probabilities ``[n, k]``) or ``"continuous"`` (``P`` holds the teacher's actions
``[n, m]``, one column per action dimension, with the dimensions' bounds and optionally the
teacher's per-dimension std). Students, metrics and rollouts read ``action_kind`` and branch
once; datasets of different kinds never stack.

The dataset is immutable once built (its arrays are read-only copies), so its content hash is
computed once and stays true. The hash covers exactly the data a student learns from —
``X``, ``P``, ``weights`` (each through ``provenance.hashing.hash_array``: dtype, shape and
little-endian bytes) and the canonical JSON of ``action_names`` and ``feature_names`` — and
never ``meta`` (run ids, times, file names), so the same decisions hash the same whether they
came through the trajectory store, a JSONL file or an ``.npz``. A continuous dataset's hash also
covers its kind, bounds and std; a discrete one hashes exactly as before the kind existed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from hybrid.errors import DataError
from hybrid.spaces import ActionSpace, BoxActions, DiscreteActions, VectorStates, check_names
from hybrid.validation import non_finite_at, probability_problem
from provenance.hashing import hash_array, hash_json

_FORMAT = 1
ACTION_KINDS = ("discrete", "continuous")


class _NpzArrays(TypedDict, total=False):
    """The arrays of a saved dataset, by name (``DistillDataset.save`` and ``load``)."""

    format: np.ndarray
    X: np.ndarray
    P: np.ndarray
    action_names: np.ndarray
    meta: np.ndarray
    feature_names: np.ndarray
    weights: np.ndarray
    agent_ids: np.ndarray
    action_kind: np.ndarray
    action_low: np.ndarray
    action_high: np.ndarray
    action_std: np.ndarray


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, order="C", copy=True)
    a.setflags(write=False)
    return a


class DistillDataset:
    """Teacher decisions ready for distillation: ``X`` float32 ``[n, d]``, ``P`` float32 ``[n, k]``.

    ``P`` rows are probabilities (finite, ≥ 0, summing to 1 within ``hybrid.validation.PROBA_TOLERANCE``); ``weights`` are
    optional per-state importances (finite, ≥ 0). ``meta`` is free-form provenance (JSON-able)
    that travels with the data but does not enter ``content_hash``.

    With ``action_kind="continuous"``, ``P`` holds actions ``[n, m]`` (also readable as
    ``actions``) within ``[action_low, action_high]`` per dimension, ``action_names`` names the
    dimensions, and ``action_std`` (optional, ``[n, m]``) is the teacher's spread per action.

    ``agent_ids`` (optional, one string per row) names the agent of a team each decision was
    made for (see ``hybrid.loop.rollouts.team_collect``); when present it enters the content hash.
    """

    def __init__(
        self,
        X: Any,
        P: Any,
        action_names: Sequence[str],
        feature_names: Sequence[str] | None = None,
        weights: Any = None,
        meta: dict[str, Any] | None = None,
        *,
        action_kind: str = "discrete",
        action_std: Any = None,
        action_low: Any = None,
        action_high: Any = None,
        agent_ids: Any = None,
    ) -> None:
        if action_kind not in ACTION_KINDS:
            raise DataError(f"action_kind must be one of {ACTION_KINDS}; got {action_kind!r}")
        try:
            X, P = _frozen(X), _frozen(P)
        except (TypeError, ValueError) as e:
            raise DataError(f"X and P must be numeric arrays; could not convert: {e}") from None
        self.action_names = check_names(action_names, "action_names")
        self.feature_names = None if feature_names is None else check_names(feature_names, "feature_names")
        if X.ndim != 2:
            raise DataError(f"X must be 2-D [n_states, n_features]; got shape {X.shape}")
        if P.shape != (X.shape[0], len(self.action_names)):
            raise DataError(f"P has shape {P.shape}; expected [{X.shape[0]}, {len(self.action_names)}] (one row per state of X, one column per action name)")
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise DataError(f"feature_names has {len(self.feature_names)} names but X has {X.shape[1]} features")
        _check_finite(X, "X")
        self.action_std, self.action_low, self.action_high = _targets(action_kind, P, action_std, action_low, action_high)
        self.action_space: ActionSpace = (
            DiscreteActions(self.action_names) if self.action_low is None else BoxActions(self.action_names, self.action_low, self.action_high)
        )
        if weights is not None:
            weights = _frozen(weights)
            if weights.shape != (X.shape[0],):
                raise DataError(f"weights must have shape ({X.shape[0]},); got {weights.shape}")
            _check_finite(weights, "weights")
            if (weights < 0).any():
                raise DataError(f"weights has a negative value at row {int(np.argmax(weights < 0))}; weights must be ≥ 0")
        self.X, self.P, self.weights = X, P, weights
        self.agent_ids = None if agent_ids is None else _agent_column(agent_ids, X.shape[0])
        self.meta: dict[str, Any] = dict(meta or {})
        self._hash: str | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return f"DistillDataset(n={len(self)}, features={self.n_features}, {self.action_space!r})"

    @property
    def action_kind(self) -> str:
        """``"discrete"`` or ``"continuous"``: the kind of ``action_space``."""
        return self.action_space.kind

    @property
    def state_space(self) -> VectorStates:
        """Numeric state vectors of ``n_features`` columns."""
        return VectorStates(self.n_features, self.feature_names)

    def student_features(self, held_out: DistillDataset, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None, None]:
        """What a student reads of these training rows (in ``order``) and of ``held_out``: the
        state vectors themselves, their names, and no featurizer."""
        names = None if self.feature_names is None else tuple(self.feature_names)
        return np.ascontiguousarray(self.X[order]), held_out.X, names, None

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def labels(self) -> np.ndarray:
        """The teacher's greedy action per state (argmax of ``P``), int64."""
        if self.action_low is not None:
            raise DataError("a continuous dataset has actions, not labels; read dataset.actions")
        return np.argmax(self.P, axis=1)

    @property
    def actions(self) -> np.ndarray:
        """The teacher's continuous actions ``[n, m]`` (the same array as ``P``)."""
        if self.action_low is None:
            raise DataError("a discrete dataset has probabilities, not continuous actions; read dataset.P or labels")
        return self.P

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """A continuous dataset's ``(action_low, action_high)``, one bound per action dimension."""
        if self.action_low is None or self.action_high is None:
            raise DataError("a discrete dataset has no action bounds; only a continuous dataset has them")
        return self.action_low, self.action_high

    def _kind_args(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this dataset's action kind (for derived datasets)."""
        if self.action_low is None:
            return {}
        return {"action_kind": "continuous", "action_std": self.action_std, "action_low": self.action_low, "action_high": self.action_high}

    @property
    def content_hash(self) -> str:
        """``sha256:…`` over X, P, weights and the names; ``meta`` is left out on purpose."""
        if self._hash is None:
            self._hash = hash_json(
                {
                    "format": _FORMAT,
                    "X": hash_array(self.X),
                    "P": hash_array(self.P),
                    "weights": None if self.weights is None else hash_array(self.weights),
                    "action_names": list(self.action_names),
                    "feature_names": None if self.feature_names is None else list(self.feature_names),
                    **self._box_hashes(),
                    **({} if self.agent_ids is None else {"agent_ids": hash_json(self.agent_ids.tolist())}),
                }
            )
        return self._hash

    def _box_hashes(self) -> dict[str, Any]:
        """What a continuous dataset's hash adds (kind, bounds, std); a discrete one hashes as before the kind existed."""
        if self.action_low is None or self.action_high is None:
            return {}
        return {
            "action_kind": self.action_kind,
            "action_std": None if self.action_std is None else hash_array(self.action_std),
            "action_low": hash_array(self.action_low),
            "action_high": hash_array(self.action_high),
        }

    def subset(self, indices: Any) -> DistillDataset:
        """The rows at ``indices`` (integer positions or a boolean mask), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise DataError(f"a boolean mask must have shape ({len(self)},); got {idx.shape}")
            idx = np.flatnonzero(idx)
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise DataError(f"indices must be integers or a boolean mask; got dtype {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"indices out of range for a dataset of {len(self)} states")
        return DistillDataset(
            self.X[idx],
            self.P[idx],
            self.action_names,
            self.feature_names,
            None if self.weights is None else self.weights[idx],
            row_tags_subset(self.meta, idx),
            **{**self._kind_args(), **({} if self.action_std is None else {"action_std": self.action_std[idx]})},
            agent_ids=None if self.agent_ids is None else self.agent_ids[idx],
        )

    def split(self, val_fraction: float = 0.2, seed: int | np.random.Generator = 0) -> tuple[DistillDataset, DistillDataset]:
        """Deterministic random train/validation split; each part keeps the original row order."""
        train, val = split_indices(len(self), val_fraction, seed)
        return self.subset(train), self.subset(val)

    @classmethod
    def concat(cls, datasets: Sequence[DistillDataset]) -> DistillDataset:
        """Stack datasets with the same names; missing weights count as 1 when any part has them."""
        if not datasets:
            raise DataError("concat needs at least one dataset")
        first = datasets[0]
        for i, d in enumerate(datasets[1:], start=1):
            if type(d.action_space) is not type(first.action_space):
                raise DataError(
                    f"dataset {i} holds {d.action_kind} actions but dataset 0 holds {first.action_kind} ones; "
                    "a dataset has one action kind: collect the two teachers into separate datasets"
                )
            if d.action_space != first.action_space and d.action_names == first.action_names:
                raise DataError(f"dataset {i} acts in {d.action_space!r}, dataset 0 in {first.action_space!r}; only datasets with the same bounds stack")
            if (d.action_names, d.feature_names, d.n_features) != (first.action_names, first.feature_names, first.n_features):
                raise DataError(
                    f"dataset {i} has actions {list(d.action_names)} and {d.n_features} features {d.feature_names}, dataset 0 "
                    f"has {list(first.action_names)} and {first.n_features} {first.feature_names}; only datasets with the same names stack"
                )
        weights = None
        if any(d.weights is not None for d in datasets):
            weights = np.concatenate([np.ones(len(d), np.float32) if d.weights is None else d.weights for d in datasets])
        with_agents = [d.agent_ids is not None for d in datasets]
        if any(with_agents) and not all(with_agents):
            raise DataError(f"datasets {[i for i, w in enumerate(with_agents) if not w]} have no agent ids but others do; stack team data with team data only")
        kind = first._kind_args()
        if kind:
            stds = [d.action_std for d in datasets if d.action_std is not None]
            kind["action_std"] = np.concatenate(stds) if len(stds) == len(datasets) else None
        return cls(
            np.concatenate([d.X for d in datasets]),
            np.concatenate([d.P for d in datasets]),
            first.action_names,
            first.feature_names,
            weights,
            {"concat_of": [d.content_hash for d in datasets], **row_tags_concat([d.meta for d in datasets], [len(d) for d in datasets])},
            **kind,
            agent_ids=np.concatenate([d.agent_ids for d in datasets]) if all(with_agents) else None,
        )

    def with_weights(self, weights: Any) -> DistillDataset:
        """The same states and probabilities with new per-state weights (``None`` drops them)."""
        return DistillDataset(self.X, self.P, self.action_names, self.feature_names, weights, dict(self.meta), **self._kind_args(), agent_ids=self.agent_ids)

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (no pickled objects: names as unicode arrays, meta as JSON text)."""
        path = Path(path)
        arrays: _NpzArrays = {
            "format": np.array(_FORMAT),
            "X": self.X,
            "P": self.P,
            "action_names": np.array(self.action_names, dtype=np.str_),
            "meta": np.array(json.dumps(self.meta, sort_keys=True, default=str)),
        }
        if self.feature_names is not None:
            arrays["feature_names"] = np.array(self.feature_names, dtype=np.str_)
        if self.weights is not None:
            arrays["weights"] = self.weights
        if self.agent_ids is not None:
            arrays["agent_ids"] = self.agent_ids
        if self.action_low is not None and self.action_high is not None:
            arrays["action_kind"] = np.array(self.action_kind)
            arrays["action_low"], arrays["action_high"] = self.action_low, self.action_high
            if self.action_std is not None:
                arrays["action_std"] = self.action_std
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    @classmethod
    def from_labels(cls, X: Any, y: Any, action_names: Sequence[str] | None = None) -> DistillDataset:
        """A dataset of the teacher's chosen actions ``y`` (labels, or indices into
        ``action_names``) as one-hot probabilities; without names, the sorted distinct labels."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise DataError(f"y must hold one label per state (shape [n]); got shape {y.shape}")
        if action_names is None:
            names, index = np.unique(y.astype(str), return_inverse=True)
            action_names = names.tolist()
        else:
            index = y.astype(np.int64)
            if y.size and (not np.array_equal(index, y) or index.min() < 0 or index.max() >= len(action_names)):
                raise DataError(f"y must index action_names (0…{len(action_names) - 1}) when both are given")
        P = np.zeros((len(y), len(action_names)), dtype=np.float32)
        P[np.arange(len(y)), index] = 1.0
        return cls(np.asarray(X, dtype=np.float32), P, list(action_names))

    @classmethod
    def load(cls, path: str | Path) -> DistillDataset:
        """Read a dataset written by ``save`` (``allow_pickle=False``), or an ``.npz`` of states
        ``X`` and labels ``y`` (see :meth:`from_labels`)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                files = set(data.files)
                if {"X", "y"} <= files and "P" not in files:  # scikit-learn's habit: states and the teacher's labels
                    return cls.from_labels(data["X"], data["y"], data["action_names"].tolist() if "action_names" in files else None)
                missing = {"X", "P", "action_names"} - files
                if missing:
                    raise DataError(f"{path} is not a DistillDataset file: it lacks {sorted(missing)}; write it with DistillDataset.save")
                kind: dict[str, Any] = (
                    {}
                    if "action_kind" not in files
                    else {
                        "action_kind": str(data["action_kind"]),
                        "action_std": data["action_std"] if "action_std" in files else None,
                        "action_low": data["action_low"] if "action_low" in files else None,
                        "action_high": data["action_high"] if "action_high" in files else None,
                    }
                )
                return cls(
                    data["X"],
                    data["P"],
                    data["action_names"].tolist(),
                    data["feature_names"].tolist() if "feature_names" in files else None,
                    data["weights"] if "weights" in files else None,
                    json.loads(str(data["meta"])) if "meta" in files else None,
                    **kind,
                    agent_ids=data["agent_ids"] if "agent_ids" in files else None,
                )
        except (OSError, ValueError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"cannot read dataset {path}: {e}") from None


def _agent_column(agent_ids: Any, n: int) -> np.ndarray:
    """Agent ids as a read-only unicode array of ``n`` non-empty strings."""
    ids = np.asarray(agent_ids)
    if ids.shape != (n,) or (n and (not all(isinstance(a, str) for a in ids.tolist()) or min(len(a) for a in ids.tolist()) == 0)):
        raise DataError(f"agent_ids must hold one non-empty agent name (str) per state, {n} in all; got shape {ids.shape}")
    ids = ids.astype(np.str_)
    ids.setflags(write=False)
    return ids


def row_tags_subset(meta: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    """``meta`` for the rows at ``idx``: per-row tags (``meta["rows"]``, e.g. which teacher
    labelled a row, which data source it came from) follow their rows; the rest is copied."""
    out = dict(meta)
    if "rows" in meta:
        out["rows"] = {k: {"names": list(v["names"]), "codes": np.asarray(v["codes"], dtype=np.int64)[idx].tolist()} for k, v in meta["rows"].items()}
    return out


def row_tags_concat(metas: Sequence[dict[str, Any]], lengths: Sequence[int]) -> dict[str, Any]:
    """Per-row tags of stacked datasets: a tag kind every part carries is kept (names merged in
    first-seen order); rows of a part without it are tagged ``"untagged"``."""
    kinds = sorted({k for m in metas for k in m.get("rows", {})})
    rows: dict[str, Any] = {}
    for kind in kinds:
        names: list[str] = []
        codes: list[int] = []
        for m, n in zip(metas, lengths):
            tag = m.get("rows", {}).get(kind, {"names": ["untagged"], "codes": [0] * n})
            remap = []
            for name in tag["names"]:
                if name not in names:
                    names.append(name)
                remap.append(names.index(name))
            codes += [remap[c] for c in tag["codes"]]
        rows[kind] = {"names": names, "codes": codes}
    return {"rows": rows} if rows else {}


def split_indices(n: int, val_fraction: float, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) row positions of a seeded random split; shared by every dataset kind."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must lie strictly between 0 and 1; got {val_fraction}")
    if n < 2:
        raise DataError(f"cannot split {n} state(s); a split needs at least 2")
    n_val = min(max(int(round(n * val_fraction)), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _check_finite(a: np.ndarray, name: str) -> None:
    where = non_finite_at(a)
    if where is not None:
        raise DataError(f"{name} has NaN or infinity at row {where[0]}; drop or impute those states first")


def check_probabilities(P: np.ndarray) -> None:
    """Raise DataError unless P's rows are probabilities (see :mod:`hybrid.validation`)."""
    problem = probability_problem(P)
    if problem is not None:
        raise DataError(f"P {problem}; P must hold the teacher's probabilities, normalised per row (e.g. softmax the logits)")


def _targets(kind: str, P: np.ndarray, std: Any, low: Any, high: Any) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Check the targets ``P`` of a dataset of ``kind`` and return its frozen (std, low, high):
    probabilities (no std, no bounds) or continuous actions within their bounds."""
    if kind == ACTION_KINDS[0]:
        if std is not None or low is not None or high is not None:
            raise DataError("action_std and action bounds belong to continuous datasets; pass action_kind='continuous'")
        check_probabilities(P)
        return None, None, None
    return _continuous_target(P, std, low, high)


def _continuous_target(A: np.ndarray, std: Any, low: Any, high: Any) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Check continuous actions ``A [n, m]`` and return frozen (std, low, high).

    Bounds default to the observed range of each dimension (widened where it is a single value);
    the environment's ``Box`` bounds are the better choice and ``collect`` passes them.
    """
    _check_finite(A, "actions (P)")
    m = A.shape[1]
    if low is None or high is None:
        if len(A) == 0:
            raise DataError("an empty continuous dataset needs action_low and action_high")
        lo, hi = A.min(axis=0), A.max(axis=0)
        low = lo if low is None else low
        high = np.where(hi > lo, hi, lo + 1.0) if high is None else high
    low, high = _frozen(np.broadcast_to(np.asarray(low, dtype=np.float32), (m,))), _frozen(np.broadcast_to(np.asarray(high, dtype=np.float32), (m,)))
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()):
        raise DataError(f"action bounds must be finite with high > low per dimension; got {low.tolist()}..{high.tolist()}")
    outside = (A < low - 1e-6 * (high - low)) | (A > high + 1e-6 * (high - low))
    if outside.any():
        row, col = map(int, np.argwhere(outside)[0])
        raise DataError(
            f"action row {row} dimension {col} is {A[row, col]}, outside its bounds [{low[col]}, {high[col]}]; clip the teacher's actions to the action space"
        )
    if std is not None:
        std = _frozen(std)
        if std.shape != A.shape:
            raise DataError(f"action_std must have the actions' shape {A.shape}; got {std.shape}")
        _check_finite(std, "action_std")
        if (std < 0).any():
            raise DataError(f"action_std has a negative value at row {int(np.argwhere(std < 0)[0][0])}; a std is ≥ 0")
    return std, low, high
