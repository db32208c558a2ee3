"""One contract, checked over every family of the package and both kinds of action.

Every registered family's module is run on discrete data (a teacher's probabilities) and on
continuous data (a teacher's actions within bounds) through its variant of that kind; a module
without one (``linear``, ``keywords``) must refuse data of that kind with a ``DataError``. The
contract: scikit-learn habits (params, clone), shapes, an exact artifact round trip,
determinism, storage, cost, the action space, and the errors a user meets first, each naming
what was wrong and how to fix it. A new family joins by registering.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from hybrid.errors import DataError, NotFittedError
from hybrid.spaces import BoxActions, DiscreteActions, action_space_of
from hybrid.students import Cost, Student, registered_families
from provenance.hashing import canonical_json

# the families this package ships (test files may register toy families of their own) that fit any
# numeric states; the entity families need entity-named features and have their own tests
PACKAGE = {name: cls for name, cls in registered_families().items() if cls.__module__.startswith("hybrid.") and not getattr(cls, "needs_entities", False)}
KINDS = (DiscreteActions.kind, BoxActions.kind)
LOW, HIGH = np.array([-2.0, -1.0]), np.array([2.0, 1.0])
FEATURES = ["angle", "velocity", "load"]
NAMES = {DiscreteActions.kind: ["stay", "left", "right"], BoxActions.kind: ["torque", "thrust"]}


def variant(family: str, kind: str) -> type[Student] | None:
    """The class of ``family``'s module that learns ``kind`` actions (None: the module has none)."""
    module = PACKAGE[family].__module__
    found = [cls for cls in PACKAGE.values() if cls.__module__ == module and cls.space_type.kind == kind]
    return found[0] if found else None


CASES = [(family, kind) for family in sorted(PACKAGE) for kind in KINDS]
FITTED = [case for case in CASES if variant(*case) is not None]
MISSING = [case for case in CASES if variant(*case) is None]


@pytest.fixture(scope="module")
def data(three_actions, two_dimensions):
    """Per kind: (states, targets, the fit keywords that name and bound them)."""
    return {
        DiscreteActions.kind: (*three_actions, {}),
        BoxActions.kind: (*two_dimensions, {"action_low": LOW, "action_high": HIGH}),
    }


_fitted_cache: dict[type, Student] = {}


@pytest.fixture(params=FITTED, ids=lambda c: f"{c[0]}-{c[1]}")
def case(request, data, fast_student):
    """(unfitted maker, fitted student, states, targets, fit keywords) of one family × kind; each
    class is fitted once for the module."""
    family, kind = request.param
    cls = variant(family, kind)
    X, Y, kw = data[kind]

    def make(**overrides):
        return fast_student(cls.family, **overrides)

    if cls not in _fitted_cache:
        _fitted_cache[cls] = make().fit(X, Y, **kw)
    return make, _fitted_cache[cls], X, Y, kw


def test_every_family_of_the_package_is_registered_and_tested_for_both_kinds():
    assert {"tree", "rules", "mlp", "hybrid", "linear", "keywords"} <= set(PACKAGE)
    assert {cls.family for cls in registered_families(action_kind=BoxActions.kind).values()} >= {"regression_tree", "linear_rules", "mlp_regressor"}
    assert all(cls.space_type.kind == DiscreteActions.kind for cls in registered_families(action_kind=DiscreteActions.kind).values())
    assert {family for family, _ in MISSING} == {"linear", "keywords"}


def test_predictions_have_the_shape_of_the_action_space_and_learned_something(case):
    _make, student, X, Y, _ = case
    space = student.action_space
    assert isinstance(space, type(student).space_type) and action_space_of(student) == space
    assert student.n_features_in_ == 3 and student.n_actions_ == space.n == Y.shape[1]
    actions = student.predict(X)
    assert actions.shape == space.greedy(Y).shape
    constant = np.repeat(np.asarray(Y, dtype=np.float64).mean(axis=0, keepdims=True), len(X), axis=0)
    assert space.divergence(Y, space.student_output(student, X)) < space.divergence(Y, constant)


def test_discrete_outputs_are_probabilities_and_their_argmax(case):
    _make, student, X, Y, _ = case
    if not isinstance(student.action_space, DiscreteActions):
        with pytest.raises(DataError, match="predict"):
            student.predict_proba(X)
        return
    proba = student.predict_proba(X)
    assert proba.shape == Y.shape and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    actions = student.predict(X)
    assert np.issubdtype(actions.dtype, np.integer)
    np.testing.assert_array_equal(actions, proba.argmax(axis=1))


def test_box_outputs_stay_within_the_bounds(case):
    _make, student, X, _Y, _ = case
    space = student.action_space
    if isinstance(space, BoxActions):
        out = student.predict(X * 3)  # far outside the training states too
        assert (out >= space.low).all() and (out <= space.high).all()
        np.testing.assert_array_equal(space.low, LOW)


def test_params_set_params_and_clone_follow_scikit_learn(case):
    _make, student, *_ = case
    params = student.get_params()
    twin = clone(student)
    assert twin.get_params() == params
    assert not hasattr(twin, "n_features_in_") and not hasattr(twin, "action_space")
    assert twin.set_params(random_state=7) is twin and twin.random_state == 7
    assert type(student)(**params).get_params() == params


def test_artifact_round_trips_exactly_through_canonical_json(case):
    _make, student, X, *_ = case
    data = student.to_dict()
    assert data["family"] == student.family
    again = Student.from_dict(json.loads(canonical_json(data)))
    assert type(again) is type(student)
    assert again.to_dict() == data and again.content_hash == student.content_hash
    assert again.action_space == student.action_space
    np.testing.assert_array_equal(again.predict(X), student.predict(X))


def test_same_data_and_seed_give_the_same_content_hash(case):
    make, student, X, Y, kw = case
    assert make().fit(X, Y, **kw).content_hash == student.content_hash


def test_the_action_space_gives_names_and_bounds_as_the_keywords_do(case):
    make, student, X, Y, kw = case
    kind = student.action_space.kind
    named = make().fit(X, Y, feature_names=FEATURES, action_names=NAMES[kind], **kw)
    space = named.action_space
    assert space.names == tuple(NAMES[kind])
    assert make().fit(X, Y, feature_names=FEATURES, action_space=space).content_hash == named.content_hash
    other = BoxActions(["u"], [-1.0], [1.0]) if kind == DiscreteActions.kind else DiscreteActions(["a", "b"])
    with pytest.raises(DataError, match="fit a family of that kind"):
        make().fit(X, Y, action_space=other)


def test_save_and_load_as_json_never_pickle(case, tmp_path):
    _make, student, X, *_ = case
    path = student.save(tmp_path / "student.json")
    assert json.loads(path.read_text())["family"] == student.family
    loaded = Student.load(path)
    assert loaded.content_hash == student.content_hash
    np.testing.assert_array_equal(loaded.predict(X), student.predict(X))
    assert type(student).load(path).content_hash == student.content_hash


def test_cost_is_deterministic_and_counts_the_artifact_bytes(case):
    _make, student, *_ = case
    cost = student.cost()
    assert isinstance(cost, Cost)
    assert cost.parameters > 0 and cost.ops_per_decision > 0
    assert cost.bytes == len(canonical_json(student.to_dict()))
    assert Student.from_dict(student.to_dict()).cost() == cost


def test_use_before_fit_raises_not_fitted_naming_fit(case):
    make, _student, X, *_ = case
    fresh = make()
    for use in (lambda: fresh.predict(X), fresh.to_dict, fresh.cost, lambda: fresh.action_space):
        with pytest.raises(NotFittedError, match=r"call fit\(X, P\)"):
            use()
    with pytest.raises(DataError, match="carries no action space"):
        action_space_of(fresh)


BAD_TARGETS = {
    DiscreteActions.kind: [
        (lambda Y: np.ones((len(Y), 1)), {}, "at least 2 actions"),
        (lambda Y: Y[:-1], {}, "P has 599 rows but X has 600"),
        (lambda Y: Y * 2, {}, "sums to .* pass normalised probabilities"),
        (lambda Y: Y, {"action_low": [0.0]}, "action_low/action_high bound continuous actions"),
    ],
    BoxActions.kind: [
        (lambda Y: Y[:-1], {}, r"aligned with X \(600 states\)"),
        (lambda Y: np.where(np.arange(len(Y))[:, None] == 3, np.nan, Y), {}, "NaN or infinity at row 3"),
        (lambda Y: Y, {"action_low": [1.0, 1.0], "action_high": [0.0, 2.0]}, "high > low"),
    ],
}


def test_bad_data_raises_data_error_naming_the_fix(case):
    make, student, X, Y, kw = case
    nan = X.copy()
    nan[5, 1] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinity \(first at row 5, feature 1\); drop or impute"):
        make().fit(nan, Y, **kw)
    with pytest.raises(DataError, match="is empty .* log teacher decisions first"):
        make().fit(X[:0], Y[:0], **kw)
    for bad, keywords, message in BAD_TARGETS[student.action_space.kind]:
        with pytest.raises(DataError, match=message):
            make().fit(X, bad(Y), **keywords)
    with pytest.raises(DataError, match="one name per column"):
        make().fit(X, Y, action_names=["only"], **kw)
    with pytest.raises(DataError, match="has 2 features but the student was fitted on 3"):
        student.predict(X[:, :2])
    with pytest.raises(DataError, match="NaN"):
        student.predict(np.full((2, 3), np.nan))


def test_an_artifact_of_another_family_is_refused(case):
    _make, student, *_ = case
    other = next(cls for name, cls in PACKAGE.items() if name != student.family)
    with pytest.raises(DataError, match=f"holds a '{student.family}' student"):
        other.from_dict(student.to_dict())


def test_names_are_kept_in_the_artifact_and_the_python_export(case, tmp_path):
    from hybrid.exports import export_python

    make, student, X, Y, kw = case
    names = NAMES[student.action_space.kind]
    named = make().fit(X, Y, feature_names=FEATURES, action_names=names, **kw)
    again = Student.from_dict(json.loads(canonical_json(named.to_dict())))
    assert list(again.action_names_) == names and list(again.feature_names_) == FEATURES
    export_python(named, tmp_path / "decide.py")
    assert f"ACTION_NAMES = {tuple(names)!r}" in (tmp_path / "decide.py").read_text()


@pytest.mark.parametrize(("family", "kind"), MISSING, ids=lambda v: str(v))
def test_a_module_without_a_variant_of_a_kind_refuses_its_data(family, kind, data, fast_student):
    X, Y, kw = data[kind]
    with pytest.raises(DataError):
        fast_student(family).fit(X, Y, **kw)
