"""What every student family shares: input checks, the cost record, identity and storage.

A student follows the scikit-learn estimator contract (``__init__`` only stores its
arguments; what ``fit`` learns ends in ``_``) so ``get_params``/``set_params``/``clone`` and
grid search work. Its identity is the hash of its canonical ``to_dict()`` form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from hybrid.errors import DataError, NotFittedError
from hybrid.validation import non_finite_at, probability_problem
from provenance.hashing import canonical_json, hash_json

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Cost:
    """Deterministic cost of one decision, counted the same way for every family and the teacher.

    ``ops_per_decision`` is comparisons plus multiply-adds (expected value for students whose
    path length varies, e.g. hybrids); ``bytes`` is the size of the canonical artifact.
    """

    parameters: int
    ops_per_decision: float
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_states(X: Any, *, n_features: int | None = None, name: str = "X") -> np.ndarray:
    """Validate states once at the boundary: 2-D, finite, non-empty; returns float32."""
    try:
        a = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be numeric states of shape [n, d]; could not convert: {e}") from None
    if a.ndim == 1 and n_features is not None and a.shape[0] == n_features:
        a = a[None, :]
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [n_states, n_features]; got shape {a.shape}. Reshape a single state with X[None, :].")
    if a.shape[0] == 0:
        raise DataError(f"{name} is empty (0 states); log teacher decisions first, e.g. with hybrid.collect().")
    if n_features is not None and a.shape[1] != n_features:
        raise DataError(f"{name} has {a.shape[1]} features but the student was fitted on {n_features}; pass states with the same features in the same order.")
    where = non_finite_at(a)
    if where is not None:
        row, col = where
        raise DataError(f"{name} has NaN or infinity (first at row {row}, feature {col}); drop or impute those states before fitting.")
    return a


def check_targets(P: Any, n_states: int, *, n_actions: int | None = None) -> np.ndarray:
    """Turn teacher probabilities ``[n, k]`` or labels ``[n]`` into a float32 probability table."""
    p = np.asarray(P)
    if p.ndim == 1:
        if not np.issubdtype(p.dtype, np.integer):
            if not np.all(np.isfinite(p)) or not np.all(p == np.round(p)):
                raise DataError("P given as 1-D must hold integer action labels; pass probabilities as [n, k].")
            p = p.astype(np.int64)
        k = n_actions if n_actions is not None else int(p.max()) + 1 if p.size else 0
        if p.size and (p.min() < 0 or p.max() >= k):
            raise DataError(f"action labels must lie in [0, {k}); got range [{p.min()}, {p.max()}].")
        onehot = np.zeros((p.shape[0], k), dtype=np.float32)
        onehot[np.arange(p.shape[0]), p] = 1.0
        p = onehot
    p = p.astype(np.float32, copy=False)
    if p.ndim != 2:
        raise DataError(f"P must be teacher probabilities [n, k] or labels [n]; got shape {p.shape}.")
    if p.shape[0] != n_states:
        raise DataError(f"P has {p.shape[0]} rows but X has {n_states} states; they must align row for row.")
    if n_actions is not None and p.shape[1] != n_actions:
        raise DataError(f"P has {p.shape[1]} actions but {n_actions} were expected; check the teacher's action_names.")
    if p.shape[1] < 2:
        raise DataError(f"P has {p.shape[1]} action(s); distillation needs at least 2 actions.")
    problem = probability_problem(p)
    if problem is not None:
        raise DataError(f"P {problem}; pass normalised probabilities (softmax the logits).")
    return p


def check_weights(sample_weight: Any, n_states: int) -> np.ndarray | None:
    """Validate optional per-state weights (finite, ≥ 0, not all zero)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_states,):
        raise DataError(f"sample_weight must have shape ({n_states},); got {w.shape}.")
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise DataError("sample_weight must be finite, ≥ 0 and not all zero.")
    return w


def resolve_names(names: Sequence[str] | None, n: int, prefix: str, arg: str, what: str) -> list[str]:
    """Names given to ``fit`` (one per column), or ``prefix0, prefix1, …`` when none were.

    Every family's ``fit(X, P, sample_weight=None, *, feature_names=None, action_names=None)``
    keeps them in its artifact, so rules print and exports return the names training saw.
    """
    if names is None:
        return [f"{prefix}{i}" for i in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        raise DataError(f"{arg} has {len(names)} names but the data has {n} {what}; pass one name per column.")
    return names


class Student(BaseEstimator):
    """Base of every student family: identity, storage and the not-fitted check.

    Subclasses set ``family`` and implement ``fit``, ``predict_proba``, ``cost``, ``_state``
    (the learned part as JSON-able data) and ``_set_state``. A family also declares, in its own
    module, how AutoDistill searches and shows it — ``search_space``, ``expensive``,
    ``searched_by_default``, ``search_order``, ``colour`` and ``fit_imports`` — so adding a family is one module
    with ``@register``; the search, the CLI and the report read the registry.

    Export hooks (the public part of the contract that ``hybrid.exports`` and composite
    students call): ``python_source()`` returns a standard-library module whose ``decide(state)``
    returns the action; ``python_function(name)`` the source of one such ``def name(state)`` (for
    students that embed another, as a hybrid embeds its MLP); ``c_source()`` a C99 header. A
    family without them has no such export.
    """

    family: ClassVar[str] = ""
    expensive: ClassVar[bool] = False  # searched by successive halving on data size (slow fits)
    searched_by_default: ClassVar[bool] = False  # part of AutoDistill's default families
    search_order: ClassVar[int] = 100  # lower leads the interleaved first rungs of a search
    colour: ClassVar[str] = "#666666"  # its colour in report plots
    fit_imports: ClassVar[tuple[str, ...]] = ()  # heavy modules its fits import: search workers load them before their first fit
    action_kind: ClassVar[str] = "discrete"  # "continuous" families predict action vectors (hybrid.students._regressor)

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first (``epochs`` caps iterative fits);
        empty when the family is not searched."""
        return []

    # -- to implement -----------------------------------------------------------------------
    def fit(
        self, X: Any, P: Any, sample_weight: Any = None, *, feature_names: Sequence[str] | None = None, action_names: Sequence[str] | None = None
    ) -> Student:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def cost(self) -> Cost:  # pragma: no cover
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _set_state(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        """Index of the most probable action for each state."""
        return np.argmax(self.predict_proba(X), axis=1)

    def _check_fitted(self) -> None:
        if not getattr(self, "n_features_in_", None):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, P) with teacher data before using it.")

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-able form: family, hyperparameters and learned state; exact floats."""
        self._check_fitted()
        return {
            "format": FORMAT_VERSION,
            "family": self.family,
            "params": _jsonable(self.get_params(deep=False)),
            "n_features": int(self.n_features_in_),
            "n_actions": int(self.n_actions_),
            "state": self._state(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Student:
        """Rebuild a fitted student from ``to_dict()`` output (of this family or, on the base, any)."""
        target = cls if cls.family else _family_class(data.get("family", ""))
        if target.family != data.get("family"):
            raise DataError(f"this artifact holds a {data.get('family')!r} student, not {target.family!r}; load it with Student.from_dict.")
        student = target(**data["params"])
        student.n_features_in_ = int(data["n_features"])
        student.n_actions_ = int(data["n_actions"])
        student._set_state(data["state"])
        return student

    @property
    def content_hash(self) -> str:
        """``sha256:…`` of the canonical form: the model's identity."""
        return hash_json(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the canonical artifact as JSON (never pickle); returns the path written."""
        path = Path(path)
        path.write_bytes(canonical_json(self.to_dict()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Student:
        """Read a student written by ``save``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read student artifact {path}: {e}") from None
        return cls.from_dict(data)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


_REGISTRY: dict[str, type[Student]] = {}


def register(cls: type[Student]) -> type[Student]:
    """Class decorator: make a family loadable by name through ``Student.from_dict``."""
    _REGISTRY[cls.family] = cls
    return cls


def registered_families(action_kind: str | None = None) -> dict[str, type[Student]]:
    """Every registered family by name (a copy); a family registers when its module is imported.
    With ``action_kind`` ("discrete" or "continuous"), only the families of that kind. Wrappers
    around another student (``wraps_student = True``, e.g. the featurized student) load through
    ``Student.from_dict`` but are not families of their own."""
    return {
        name: cls for name, cls in _REGISTRY.items() if not getattr(cls, "wraps_student", False) and (action_kind is None or cls.action_kind == action_kind)
    }


def default_families() -> tuple[str, ...]:
    """Families AutoDistill searches when none are named: registered, searched by default, in
    their declared order."""
    chosen = [cls for cls in _REGISTRY.values() if cls.searched_by_default]
    return tuple(cls.family for cls in sorted(chosen, key=lambda c: (c.search_order, c.family)))


def _family_class(family: str) -> type[Student]:
    if family not in _REGISTRY:
        raise DataError(f"unknown student family {family!r}; known: {sorted(_REGISTRY)}.")
    return _REGISTRY[family]
