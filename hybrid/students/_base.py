"""What every student family shares: input checks, the fit boundary, the cost record, identity and storage.

A student follows the scikit-learn estimator contract (``__init__`` only stores its
arguments; what ``fit`` learns ends in ``_``) so ``get_params``/``set_params``/``clone`` and
grid search work. Its identity is the hash of its canonical ``to_dict()`` form.

Every family fits with one signature, ``fit(X, Y, sample_weight=None, *, feature_names=None,
action_names=None, action_space=None)``; a family declares the kind of actions it learns as
``space_type`` (``hybrid.spaces.DiscreteActions``: ``Y`` is the teacher's probabilities or
labels; ``hybrid.spaces.BoxActions``: ``Y`` is the teacher's actions within bounds, given by
``action_space`` or the ``action_low``/``action_high`` keywords, else the actions' range).
Every fitted student exposes ``action_space``, built from its fitted names (and bounds), so a
loaded artifact has it too and ``hybrid.spaces.action_space_of(student)`` works on any student.
``Student`` is the base of discrete families (``predict`` is the argmax of ``predict_proba``);
``BoxStudent`` the base of families acting in a ``BoxActions`` space (``predict`` returns
clipped action vectors ``[n, m]``, and they store their bounds and names alike).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator

from hybrid.errors import DataError, NotFittedError
from hybrid.spaces import ActionSpace, BoxActions, DiscreteActions
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
    """Validate states once at the boundary: dense, real, 2-D, finite, non-empty; returns float32."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise DataError(f"{name} is a sparse matrix, and sparse input is not supported: students read dense states; pass {name}.toarray().")
    try:
        raw = np.asarray(X)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be numeric states of shape [n, d]; could not convert: {e}") from None
    if raw.dtype.kind == "c":
        raise DataError(f"Complex data not supported: {name} holds complex numbers, students read real-valued states.")
    try:
        a = raw.astype(np.float32)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be numeric states of shape [n, d]; could not convert: {e}") from None
    if a.ndim == 1 and n_features is not None and a.shape[0] == n_features:
        a = a[None, :]
    if a.ndim != 2:
        raise DataError(f"{name} must be 2-D [n_states, n_features]; got shape {a.shape}. Reshape a single state with X[None, :].")
    if a.shape[0] == 0:
        raise DataError(f"{name} is empty (0 states); log teacher decisions first, e.g. with hybrid.collect().")
    if a.shape[1] == 0:
        raise DataError(f"{name} has 0 feature(s) (shape={a.shape}) while a minimum of 1 is required: a state needs at least one feature.")
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


def check_actions(A: Any, n_states: int) -> np.ndarray:
    """Teacher actions as float64 ``[n, m]`` (a 1-D array is one action dimension), finite."""
    a = np.asarray(A, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[0] != n_states:
        raise DataError(f"actions must be [n_states, n_action_dims] aligned with X ({n_states} states); got shape {a.shape}.")
    if not np.isfinite(a).all():
        raise DataError(f"actions hold NaN or infinity at row {int(np.argwhere(~np.isfinite(a))[0][0])}; pass finite teacher actions.")
    return a


def check_bounds(A: np.ndarray, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension bounds, defaulting to the actions' range; refuses high <= low."""
    m = A.shape[1]
    lo = A.min(axis=0) if low is None else np.broadcast_to(np.asarray(low, dtype=np.float64), (m,)).copy()
    hi = A.max(axis=0) if high is None else np.broadcast_to(np.asarray(high, dtype=np.float64), (m,)).copy()
    hi = np.where(hi > lo, hi, lo + 1.0) if high is None else hi
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
        raise DataError(f"action bounds must be finite with high > low per dimension; got {lo.tolist()}..{hi.tolist()}.")
    return lo, hi


def resolve_names(names: Sequence[str] | None, n: int, prefix: str, arg: str, what: str) -> list[str]:
    """Names given to ``fit`` (one per column), or ``prefix0, prefix1, …`` when none were.

    Every family keeps them in its artifact, so rules print and exports return the names
    training saw.
    """
    if names is None:
        return [f"{prefix}{i}" for i in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        raise DataError(f"{arg} has {len(names)} names but the data has {n} {what}; pass one name per column.")
    return names


class Student(BaseEstimator):
    """Base of every student family: the fit boundary, identity, storage and the not-fitted check.

    Subclasses set ``family`` and implement ``_fit`` (learn from checked arrays), ``cost``,
    ``_state`` (the learned part as JSON-able data) and ``_set_state``; discrete families also
    ``predict_proba``. ``_check_params`` refuses hyperparameters before any work. A family also
    declares, in its own module, how AutoDistill searches and shows it — ``search_space``,
    ``expensive``, ``searched_by_default``, ``search_order``, ``colour`` and ``fit_imports`` — so
    adding a family is one module with ``@register``; the search, the CLI and the report read
    the registry.

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
    space_type: ClassVar[type[ActionSpace]] = DiscreteActions  # the kind of action space the family learns
    action_kind: ClassVar[str] = DiscreteActions.kind  # space_type.kind, kept in step for every subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.action_kind = cls.space_type.kind

    @classmethod
    def adds_itself(cls, dataset: Any) -> bool:
        """Whether a default search of ``dataset`` tries this family although it is not searched
        by default (e.g. entity students where the feature names list entities)."""
        return False

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first (``epochs`` caps iterative fits);
        empty when the family is not searched."""
        return []

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        action_space: ActionSpace | None = None,
        action_low: Any = None,
        action_high: Any = None,
    ) -> Self:
        """Learn from states ``X [n, d]`` and the teacher's targets ``Y`` (what ``space_type``
        takes); ``action_space`` gives the action names (and bounds); returns self."""
        X, Y, w = self._checked(X, Y, sample_weight, feature_names, action_names, action_space, action_low, action_high)
        self._fit(X, Y, w)
        return self

    def _checked(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any,
        feature_names: Sequence[str] | None,
        action_names: Sequence[str] | None,
        action_space: ActionSpace | None,
        action_low: Any,
        action_high: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Check everything ``fit`` takes, once, for every family: hyperparameters, states,
        targets, weights, names (and bounds); sets the names and sizes, returns the arrays."""
        self._check_params()
        X = check_states(X)
        if action_space is not None:
            if not isinstance(action_space, self.space_type):
                raise DataError(f"{type(self).__name__} learns a {self.space_type.__name__} space but was given {action_space!r}; fit a family of that kind.")
            if action_names is not None and tuple(str(a) for a in action_names) != action_space.names:
                raise DataError(f"action_names {list(action_names)} differ from the action space's {list(action_space.names)}; pass one of them.")
            action_names = action_space.names
        Y = self._checked_targets(Y, X.shape[0], action_space, action_low, action_high)
        w = check_weights(sample_weight, X.shape[0])
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, Y.shape[1], "action_", "action_names", self._action_columns)
        self.n_features_in_, self.n_actions_ = X.shape[1], Y.shape[1]
        return X, Y, w

    _action_columns: ClassVar[str] = "actions"  # what a column of the targets is, in messages

    def _checked_targets(self, Y: Any, n_states: int, space: ActionSpace | None, low: Any, high: Any) -> np.ndarray:
        """The teacher's probabilities ``[n, k]`` (labels ``[n]`` become one-hot), checked."""
        if low is not None or high is not None:
            raise DataError(f"action_low/action_high bound continuous actions; {type(self).__name__} learns discrete ones from the teacher's probabilities.")
        return check_targets(Y, n_states, n_actions=None if space is None else space.n)

    def _check_params(self) -> None:
        """Refuse hyperparameters the family cannot use (``ParameterError``); called before any work."""

    def _fit(self, X: np.ndarray, Y: np.ndarray, w: Any) -> None:  # pragma: no cover
        """Learn from checked float32 states, targets and weights (discrete: None when all are
        equal; ``BoxStudent``: always an array)."""
        raise NotImplementedError

    # -- to implement -----------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def cost(self) -> Cost:  # pragma: no cover
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _set_state(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------
    _estimator_type: ClassVar[str] = "classifier"  # scikit-learn's cross_val_score and scorers read it

    def predict(self, X: Any) -> np.ndarray:
        """Index of the most probable action for each state."""
        return np.argmax(self.predict_proba(X), axis=1)

    @property
    def classes_(self) -> np.ndarray:
        """What ``predict`` returns: action indices ``0 … k-1`` (names in ``action_names_``)."""
        self._check_fitted()
        return np.arange(int(self.n_actions_))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Agreement with the teacher's actions ``y`` (labels, or probabilities whose most
        probable action counts): scikit-learn's ``accuracy_score`` of ``predict(X)``."""
        from sklearn.metrics import accuracy_score

        y = np.asarray(y)
        labels = y.argmax(axis=1) if y.ndim == 2 else y
        return float(accuracy_score(labels, self.predict(X), sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        """A classifier taking dense numeric states (scikit-learn's checks read this)."""
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    @property
    def action_space(self) -> ActionSpace:
        """The actions this fitted student takes, built from its fitted names (and bounds)."""
        self._check_fitted()
        return self._fitted_space()

    def _fitted_space(self) -> ActionSpace:
        names = getattr(self, "action_names_", None) or [f"action_{i}" for i in range(int(self.n_actions_))]
        return DiscreteActions(names)

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


class BoxStudent(Student):
    """Base of the families acting in a ``BoxActions`` space: bounds, clipping, names and their storage.

    ``fit`` takes the teacher's actions ``Y [n, m]`` and clips them to the bounds (from
    ``action_space``, else ``action_low``/``action_high``, else the actions' range), then hands
    float64 actions and weights (ones when none were given) to ``_fit``. ``predict`` returns
    actions ``[n, m]`` within the bounds; ``predict_proba`` does not exist for them.
    """

    space_type: ClassVar[type[ActionSpace]] = BoxActions
    _action_columns: ClassVar[str] = "action dimensions"
    action_low_: np.ndarray
    action_high_: np.ndarray

    def _checked_targets(self, Y: Any, n_states: int, space: ActionSpace | None, low: Any, high: Any) -> np.ndarray:
        """The teacher's actions ``[n, m]`` in float64, clipped to the bounds (which it sets)."""
        A = check_actions(Y, n_states)
        if isinstance(space, BoxActions):
            if A.shape[1] != space.n:
                raise DataError(f"actions have {A.shape[1]} dimensions but the action space has {space.n}; check the teacher's action_names.")
            low, high = space.low, space.high
        self.action_low_, self.action_high_ = check_bounds(A, low, high)
        return np.clip(A, self.action_low_, self.action_high_)

    def _checked(self, *args: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, A, w = super()._checked(*args)
        return X, A, np.ones(X.shape[0]) if w is None else w

    def predict_proba(self, X: Any) -> np.ndarray:
        """Not defined: a continuous student predicts actions (``predict``), not probabilities."""
        raise DataError(f"{type(self).__name__} predicts continuous actions; use predict(X) -> [n, m]")

    _estimator_type: ClassVar[str] = "regressor"

    @property
    def classes_(self) -> np.ndarray:
        """Not defined: a regressor has no classes."""
        raise AttributeError(f"{type(self).__name__} predicts continuous actions and has no classes_")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of ``predict(X)`` against the teacher's actions ``y`` (scikit-learn's ``r2_score``)."""
        from sklearn.metrics import r2_score

        y = np.asarray(y, dtype=np.float64)
        return float(r2_score(y.reshape(len(y), -1), self.predict(X), sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        """A regressor of one or more action dimensions (scikit-learn's checks read this)."""
        from sklearn.utils import RegressorTags

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.multi_output = True
        return tags

    def _fitted_space(self) -> ActionSpace:
        return BoxActions(self.action_names_, self.action_low_, self.action_high_)

    def _clip(self, A: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(A, self.action_low_), self.action_high_)

    def _shared_state(self) -> dict[str, Any]:
        return {
            "action_low": self.action_low_.tolist(),
            "action_high": self.action_high_.tolist(),
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
        }

    def _set_shared_state(self, state: dict[str, Any]) -> None:
        self.action_low_ = np.asarray(state["action_low"], dtype=np.float64)
        self.action_high_ = np.asarray(state["action_high"], dtype=np.float64)
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])


def fit_dataset(student: Student, dataset: Any, sample_weight: Any = None) -> Student:
    """Fit ``student`` on a ``DistillDataset`` of either kind: its states, targets, weights
    (``sample_weight`` overrides them), feature names and action space (names and bounds)."""
    weights = dataset.weights if sample_weight is None else sample_weight
    return student.fit(dataset.X, dataset.P, weights, feature_names=dataset.feature_names, action_space=dataset.action_space)


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
    With ``action_kind`` (an action space's ``kind``: "discrete" or "continuous"), only the
    families whose ``space_type`` is of that kind. Wrappers around another student
    (``wraps_student = True``, e.g. the featurized student) load through ``Student.from_dict``
    but are not families of their own."""
    kinds = {cls.space_type.kind for cls in _REGISTRY.values()} if action_kind is None else {action_kind}
    return {name: cls for name, cls in _REGISTRY.items() if not getattr(cls, "wraps_student", False) and cls.space_type.kind in kinds}


def default_families() -> tuple[str, ...]:
    """Families AutoDistill searches when none are named: registered, searched by default, in
    their declared order."""
    chosen = [cls for cls in _REGISTRY.values() if cls.searched_by_default]
    return tuple(cls.family for cls in sorted(chosen, key=lambda c: (c.search_order, c.family)))


def _family_class(family: str) -> type[Student]:
    if family not in _REGISTRY:
        raise DataError(f"unknown student family {family!r}; known: {sorted(_REGISTRY)}.")
    return _REGISTRY[family]
