"""FeaturizedStudent: a featurizer and a numeric student as one model, optionally deferring.

A student on structured states is two fitted stages: a :class:`hybrid.data.featurize.RecordFeaturizer`
(vocabularies, category values, column layout) — or, on numeric states listing entities, a
:class:`hybrid.data.entities.EntityFeaturizer` — and any numeric student over its columns (rule
list, tree, MLP, hybrid). Both live in one canonical artifact, so the content hash — the model's
identity in the ledger — covers the vocabulary too, and the Python export runs both.

With ``defer_below=t`` the student is the cheap stage of a cascade: where its confidence (the
probability it gives its own choice) is below ``t``, ``decide`` returns ``None`` — "ask the
teacher". The threshold is part of the artifact and the hash. Without a featurizer the wrapper
takes numeric states and only adds deferral.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.data.entities import KIND as ENTITIES
from hybrid.data.entities import EntityFeaturizer
from hybrid.data.featurize import RecordFeaturizer
from hybrid.errors import DataError, ParameterError
from hybrid.spaces import ActionSpace
from hybrid.students._base import FORMAT_VERSION, Cost, Student, check_states, register
from provenance.hashing import canonical_json

Featurizer = RecordFeaturizer | EntityFeaturizer  # the first stages a featurized student can carry
_BINARY_MARKERS = (' has "', ' is "', ' contains "')  # 0/1 columns, read as words in rules
SPARSE_FIRST_LAYER = ("mlp", "linear")  # families whose featurized export multiplies only non-zero features


@register
class FeaturizedStudent(Student):
    """``featurizer`` (or none, for numeric states) then ``student``; defers below ``defer_below``.

    Parameters
    ----------
    student: an unfitted numeric student (fitted by ``fit``).
    featurizer: an unfitted :class:`RecordFeaturizer` (records) or :class:`EntityFeaturizer`
        (numeric states listing entities), or ``None`` for numeric states as they are.
    defer_below: confidence under which ``decide`` returns ``None`` (``None``: never defer).
    """

    family = "featurized"
    wraps_student = True  # loads by name, but is no family of its own (see registered_families)

    def __init__(self, student: Any = None, featurizer: Featurizer | None = None, defer_below: float | None = None) -> None:
        self.student = student
        self.featurizer = featurizer
        self.defer_below = defer_below

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        states: Any,
        Y: Any,
        sample_weight: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        action_space: ActionSpace | None = None,
        action_low: Any = None,
        action_high: Any = None,
    ) -> FeaturizedStudent:
        """Fit the featurizer on ``states`` (records), then the student on their features
        (named by the featurizer; ``feature_names`` name numeric states when there is no
        featurizer); the targets and the action space go to the student as they are."""
        if self.student is None:
            raise ParameterError("FeaturizedStudent needs student=… (e.g. RuleListStudent(max_rules=32)) to fit")
        featurizer: Featurizer | None = None
        if isinstance(self.featurizer, EntityFeaturizer):
            featurizer = EntityFeaturizer(**self.featurizer.params()).fit(states, feature_names)
        elif self.featurizer is not None:
            featurizer = RecordFeaturizer(**_featurizer_params(self.featurizer)).fit(states)
        X = featurizer.transform(states) if featurizer is not None else check_states(states)
        names = featurizer.feature_names_ if featurizer is not None else feature_names
        given = {"action_space": action_space, "action_low": action_low, "action_high": action_high}
        inner = _clone(self.student).fit(
            X, Y, sample_weight, feature_names=names, action_names=action_names, **{k: v for k, v in given.items() if v is not None}
        )
        return self._set_parts(featurizer, inner, action_names)

    @classmethod
    def from_parts(
        cls, featurizer: Featurizer | None, student: Student, *, defer_below: float | None = None, action_names: Sequence[str] | None = None
    ) -> FeaturizedStudent:
        """Join an already fitted featurizer (or none) and a student fitted on its features."""
        student._check_fitted()
        if featurizer is not None and featurizer.n_features_out_ != student.n_features_in_:
            raise DataError(
                f"the featurizer gives {featurizer.n_features_out_} features but the student was fitted on "
                f"{student.n_features_in_}; fit the student on featurizer.transform(records)"
            )
        out = cls(student=None, featurizer=None, defer_below=defer_below)
        return out._set_parts(featurizer, student, action_names)

    def _set_parts(self, featurizer: Featurizer | None, student: Student, action_names: Sequence[str] | None) -> FeaturizedStudent:
        if self.defer_below is not None and not 0.0 <= float(self.defer_below) < float("inf"):
            raise DataError(f"defer_below is a confidence ≥ 0 (above 1 defers every state); got {self.defer_below!r}")
        self.featurizer_, self.student_ = featurizer, student
        names = action_names or getattr(student, "action_names_", None) or [f"action_{i}" for i in range(student.n_actions_)]
        self.action_names_ = [str(a) for a in names]
        self.n_features_in_ = int(student.n_features_in_)
        self.n_actions_ = int(student.n_actions_)
        return self

    # -- inference ----------------------------------------------------------------------------
    def features(self, states: Any) -> np.ndarray:
        """The numeric features the inner student sees: records featurized, numbers checked."""
        self._check_fitted()
        if self.featurizer_ is None:
            return check_states(states, n_features=self.n_features_in_)
        return self.featurizer_.transform(states)

    def predict_proba(self, states: Any) -> np.ndarray:
        """The inner student's probabilities on the featurized states."""
        return self.student_.predict_proba(self.features(states))

    def predict(self, states: Any) -> np.ndarray:
        """The inner student's choice (never deferred): index of the action."""
        return np.asarray(self.student_.predict(self.features(states)))

    def choose(self, states: Any) -> tuple[np.ndarray, np.ndarray]:
        """(action index, confidence = the probability of that action) for each state."""
        X = self.features(states)
        actions = np.asarray(self.student_.predict(X))
        proba = self.student_.predict_proba(X)
        return actions, proba[np.arange(len(actions)), actions]

    def predict_or_defer(self, states: Any) -> np.ndarray:
        """Action index per state, or -1 where the confidence is below ``defer_below``."""
        actions, confidence = self.choose(states)
        if self.defer_below is None:
            return actions
        return np.where(confidence >= float(self.defer_below), actions, -1)

    def decide(self, state: Any) -> str | None:
        """The action name for one state (a dict of field values, or a numeric vector), or
        ``None`` when the student defers to the teacher."""
        if isinstance(state, Mapping) or (_reads_vectors(self.featurizer_) and np.ndim(state) == 1):
            state = [state]
        else:
            raise DataError("decide takes one state: a dict of field values (or one numeric vector); use predict_or_defer for many")
        i = int(self.predict_or_defer(state)[0])
        return None if i < 0 else self.action_names_[i]

    # -- text ---------------------------------------------------------------------------------
    def to_text(self) -> str:
        """Rules (or the inner student's description) with 0/1 features read as words:
        ``IF text has "weather" AND NOT text has "book" THEN weather``."""
        self._check_fitted()
        inner = self.student_
        from hybrid.students.rules import RuleListStudent

        if not isinstance(inner, RuleListStudent):
            text = inner.to_text() if hasattr(inner, "to_text") else f"{inner.family} student over {inner.n_features_in_} features"
        else:
            lines = []
            for r in inner.rules_:
                cond = " AND ".join(self._condition_text(c) for c in r.conditions)
                head = f"IF {cond} THEN" if cond else "OTHERWISE"
                lines.append(f"{head} {inner.action_names_[r.action]}   # covers {r.coverage:.1%}, agrees {r.confidence:.1%}")
            lines.append(f"ELSE {inner.action_names_[inner.default_action_]}   # covers {inner.default_coverage_:.1%}")
            text = "\n".join(lines)
        if self.defer_below is not None:
            text += f"\nDEFER to the teacher when the chosen action's probability < {float(self.defer_below):.4g}"
        return text

    def _condition_text(self, c: Any) -> str:
        name = self.student_.feature_names_[c.features[0]]
        if c.oblique or not any(m in name for m in _BINARY_MARKERS):
            return self.student_.condition_text(c)
        if c.lower is not None and c.upper is None and 0.0 <= c.lower < 1.0:
            return name
        if c.upper is not None and c.lower is None and 0.0 <= c.upper < 1.0:
            return f"NOT {name}"
        return self.student_.condition_text(c)

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """The inner student's cost plus featurizing: one lookup per n-gram, value or number
        (averaged over training records); parameters add one per vocabulary entry. A linear or
        MLP first layer runs on the non-zero features only (as the export does): its
        multiply-adds are counted for the training records' mean number of non-zero columns."""
        self._check_fitted()
        inner = self.student_.cost()
        f = self.featurizer_
        ops = inner.ops_per_decision + (0.0 if f is None else f.mean_lookups_)
        if isinstance(f, RecordFeaturizer) and self.student_.family in SPARSE_FIRST_LAYER:
            units, width = self.student_.weights_[0].shape
            ops += (f.mean_active_ - width) * units
        vocabulary = 0 if f is None else f.n_features_out_
        return Cost(parameters=int(inner.parameters + vocabulary), ops_per_decision=float(ops), bytes=len(canonical_json(self.to_dict())))

    def to_dict(self) -> dict[str, Any]:
        """Canonical form: the featurizer's layout, the inner student's artifact, the threshold."""
        self._check_fitted()
        return {
            "format": FORMAT_VERSION,
            "family": self.family,
            "params": {"defer_below": None if self.defer_below is None else float(self.defer_below)},
            "n_features": self.n_features_in_,
            "n_actions": self.n_actions_,
            "state": {
                "featurizer": None if self.featurizer_ is None else self.featurizer_.to_dict(),
                "student": self.student_.to_dict(),
                "action_names": list(self.action_names_),
            },
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        """Rebuild both stages from ``to_dict()['state']`` (``Student.from_dict`` calls this)."""
        featurizer = None if state["featurizer"] is None else _featurizer_from_dict(state["featurizer"])
        self._set_parts(featurizer, Student.from_dict(state["student"]), state["action_names"])

    def with_threshold(self, defer_below: float | None) -> FeaturizedStudent:
        """The same fitted stages with another deferral threshold (a new model, a new hash)."""
        self._check_fitted()
        return type(self).from_parts(self.featurizer_, self.student_, defer_below=defer_below, action_names=self.action_names_)


def _reads_vectors(featurizer: Featurizer | None) -> bool:
    return featurizer is None or featurizer.reads_vectors


def _featurizer_from_dict(data: Mapping[str, Any]) -> Featurizer:
    """The fitted featurizer of an artifact: an entity stage says its kind; a record one does not."""
    return EntityFeaturizer.from_dict(data) if data.get("kind") == ENTITIES else RecordFeaturizer.from_dict(data)


def _featurizer_params(featurizer: RecordFeaturizer) -> dict[str, Any]:
    return {
        k: getattr(featurizer, k)
        for k in ("fields", "ngram_range", "max_features", "min_df", "max_categories", "hashing", "lowercase", "char_ngram_range", "weighting")
    }


def _clone(student: Any) -> Any:
    from sklearn.base import clone

    return clone(student)
