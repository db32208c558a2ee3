"""One contract, checked over every registered student family (a new family joins by registering).

scikit-learn habits (params, clone), shapes, exact artifact round trip, determinism, storage,
and the errors a user meets first: each must name what was wrong and how to fix it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from hybrid.errors import DataError, NotFittedError
from hybrid.students import Cost, Student, registered_families
from provenance.hashing import canonical_json

# the discrete families this package ships (test files may register toy families of their own);
# the continuous ones keep their own contract in tests/students/test_continuous_students.py
FAMILIES = sorted(name for name, cls in registered_families(action_kind="discrete").items() if cls.__module__.startswith("hybrid."))


@pytest.fixture(scope="module", params=FAMILIES)
def fitted(request, three_actions, fast_student):
    X, P = three_actions
    return fast_student(request.param).fit(X, P)


def test_families_are_registered_by_importing_the_package():
    assert {"tree", "rules", "mlp"} <= set(FAMILIES)


def test_fit_returns_the_student_and_predictions_have_the_right_shapes(fitted, three_actions):
    X, P = three_actions
    proba = fitted.predict_proba(X)
    assert proba.shape == P.shape
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba >= 0).all()
    actions = fitted.predict(X)
    assert actions.shape == (len(X),) and np.issubdtype(actions.dtype, np.integer)
    np.testing.assert_array_equal(actions, proba.argmax(axis=1))
    assert fitted.n_features_in_ == 3 and fitted.n_actions_ == 3
    assert (actions == P.argmax(axis=1)).mean() > 0.5  # learned something (a constant gets ~0.4 here)


def test_params_set_params_and_clone_follow_scikit_learn(fitted):
    params = fitted.get_params()
    twin = clone(fitted)
    assert twin.get_params() == params
    assert not hasattr(twin, "n_features_in_")
    assert twin.set_params(random_state=7) is twin and twin.random_state == 7
    assert type(fitted)(**params).get_params() == params


def test_artifact_round_trips_exactly_through_canonical_json(fitted, three_actions):
    X, _ = three_actions
    data = fitted.to_dict()
    assert data["family"] == fitted.family
    again = Student.from_dict(json.loads(canonical_json(data)))
    assert type(again) is type(fitted)
    assert again.to_dict() == data
    assert again.content_hash == fitted.content_hash
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_same_data_and_seed_give_the_same_content_hash_twice(fitted, three_actions):
    X, P = three_actions
    assert clone(fitted).fit(X, P).content_hash == fitted.content_hash
    assert clone(fitted).fit(X, P).content_hash == fitted.content_hash


def test_save_and_load_as_json_never_pickle(fitted, three_actions, tmp_path):
    X, _ = three_actions
    path = fitted.save(tmp_path / "student.json")
    assert json.loads(path.read_text())["family"] == fitted.family
    loaded = Student.load(path)
    assert loaded.content_hash == fitted.content_hash
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert type(fitted).load(path).content_hash == fitted.content_hash


def test_cost_is_deterministic_and_counts_the_artifact_bytes(fitted):
    cost = fitted.cost()
    assert isinstance(cost, Cost)
    assert cost.parameters > 0 and cost.ops_per_decision > 0
    assert cost.bytes == len(canonical_json(fitted.to_dict()))
    assert Student.from_dict(fitted.to_dict()).cost() == cost


@pytest.mark.parametrize("family", FAMILIES)
def test_use_before_fit_raises_not_fitted_naming_fit(family, fast_student, three_actions):
    X, _ = three_actions
    student = fast_student(family)
    for use in (lambda: student.predict(X), lambda: student.predict_proba(X), student.to_dict, student.cost):
        with pytest.raises(NotFittedError, match=r"call fit\(X, P\)"):
            use()


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_data_raises_data_error_naming_the_fix(family, fast_student, three_actions):
    X, P = three_actions
    student = fast_student(family)
    nan = X.copy()
    nan[5, 1] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinity \(first at row 5, feature 1\); drop or impute"):
        student.fit(nan, P)
    with pytest.raises(DataError, match="is empty .* log teacher decisions first"):
        student.fit(X[:0], P[:0])
    with pytest.raises(DataError, match="at least 2 actions"):
        student.fit(X, np.ones((len(X), 1)))
    with pytest.raises(DataError, match="P has 599 rows but X has 600"):
        student.fit(X, P[:-1])
    with pytest.raises(DataError, match="sums to .* pass normalised probabilities"):
        student.fit(X, P * 2)


def test_predicting_with_the_wrong_number_of_features_names_the_fix(fitted, three_actions):
    X, _ = three_actions
    with pytest.raises(DataError, match="has 2 features but the student was fitted on 3"):
        fitted.predict(X[:, :2])
    with pytest.raises(DataError, match="NaN"):
        fitted.predict(np.full((2, 3), np.nan))


def test_an_artifact_of_another_family_is_refused(fitted):
    others = [cls for name, cls in registered_families(action_kind="discrete").items() if name != fitted.family]
    with pytest.raises(DataError, match=f"holds a '{fitted.family}' student"):
        others[0].from_dict(fitted.to_dict())


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_takes_and_keeps_feature_and_action_names(family, fast_student, three_actions, tmp_path):
    from hybrid.exports import export_python

    X, P = three_actions
    features, actions = [f"f{j}" for j in range(X.shape[1])], ["stay", "left", "right"]
    student = fast_student(family).fit(X, P, feature_names=features, action_names=actions)
    again = Student.from_dict(json.loads(canonical_json(student.to_dict())))
    assert list(again.action_names_) == actions and list(again.feature_names_) == features
    export_python(student, tmp_path / "decide.py")
    assert repr(tuple(actions)) in (tmp_path / "decide.py").read_text()
    with pytest.raises(DataError, match="one name per column"):
        fast_student(family).fit(X, P, action_names=actions[:2])
