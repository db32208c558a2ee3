"""The entity stage: permutation-invariant features, inferred layouts, the artifact and the export."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.data.entities import EntityFeaturizer, infer_entity_groups, layout_ops
from hybrid.errors import DataError
from hybrid.exports.python import python_source
from hybrid.students import EntityMLPStudent, EntityTreeStudent, Student
from hybrid.students.featurized import FeaturizedStudent
from hybrid.students.tree import TreeStudent

NAMES = [
    "self_x",
    "self_y",
    *(f"landmark_{j}_{c}" for j in range(3) for c in ("dx", "dy")),
    *(f"other_{k}_{c}" for k in range(2) for c in ("dx", "dy")),
    "comm_0_0",
]


def _states(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, len(NAMES))).astype(np.float32)


def _go_to_the_free_landmark(X: np.ndarray) -> np.ndarray:
    """Label: 1 when the nearest landmark is nearer to the agent than to any partner, else 0."""
    lm = X[:, 2:8].reshape(-1, 3, 2)
    ot = X[:, 8:12].reshape(-1, 2, 2)
    d = np.linalg.norm(lm, axis=2)
    k = d.argmin(1)
    near = lm[np.arange(len(X)), k]
    partner = np.linalg.norm(ot - near[:, None], axis=2).min(1)
    return (partner > d.min(1)).astype(int)


def test_groups_are_inferred_from_names_and_the_features_ignore_entity_order() -> None:
    groups = infer_entity_groups(NAMES)
    assert groups == {"landmark": [[2, 3, -1], [4, 5, -1], [6, 7, -1]], "other": [[8, 9, -1], [10, 11, -1]]}
    assert infer_entity_groups(["x", "y", "vel_0_dx"]) == {}  # one entity is no group
    X = _states(40)
    f = EntityFeaturizer().fit(X, NAMES)
    assert f.feature_names_[:3] == ["self_x", "self_y", "comm_0_0"] and "landmark_near1_margin_vs_other" in f.feature_names_
    swapped = X.copy()
    swapped[:, 2:4], swapped[:, 6:8] = X[:, 6:8], X[:, 2:4]  # landmarks 0 and 2 trade slots
    np.testing.assert_array_equal(f.transform(X), f.transform(swapped))
    F = f.transform(X)
    lm = np.linalg.norm(X[:, 2:8].reshape(-1, 3, 2), axis=2)
    np.testing.assert_allclose(F[:, f.feature_names_.index("landmark_near1_dist")], lm.min(1), rtol=1e-6)
    assert f.mean_lookups_ == layout_ops(f.layout_) > 0
    raw = EntityFeaturizer(keep_raw=True).fit(X, NAMES)
    assert raw.feature_names_[: len(NAMES)] == NAMES


def test_presence_columns_drop_absent_entities() -> None:
    names = ["ego_speed", *(f"vehicle_{i}_{c}" for i in range(3) for c in ("presence", "x", "y"))]
    X = np.array([[1.0, 1, 0.5, 0.0, 0, 0.1, 0.0, 1, 2.0, 0.0]], dtype=np.float32)
    f = EntityFeaturizer(radius=1.0).fit(X, names)
    F = dict(zip(f.feature_names_, f.transform(X)[0]))
    assert F["vehicle_near1_dist"] == pytest.approx(0.5) and F["vehicle_near2_dist"] == pytest.approx(2.0)
    assert F["vehicle_near3_dist"] == pytest.approx(1000.0) and F["vehicle_within_radius"] == 1.0


def test_bad_layouts_are_refused_with_the_fix() -> None:
    with pytest.raises(DataError, match="no entities found.*landmark_0_dx"):
        EntityFeaturizer().fit(_states(5), [f"f{i}" for i in range(len(NAMES))])
    with pytest.raises(DataError, match="beyond the states' 13 columns"):
        EntityFeaturizer(groups={"a": [[0, 1], [20, 21]]}).fit(_states(5))
    with pytest.raises(DataError, match="nearest must be ≥ 1"):
        EntityFeaturizer(nearest=0).fit(_states(5), NAMES)
    f = EntityFeaturizer().fit(_states(5), NAMES)
    with pytest.raises(DataError, match="fitted on 13"):
        f.transform(np.zeros((2, 5)))


@pytest.mark.parametrize("student", [EntityTreeStudent(max_depth=4), EntityMLPStudent(hidden_sizes=(4,), epochs=5)])
def test_entity_students_learn_the_cross_entity_rule_save_load_and_export(student: Student, tmp_path) -> None:
    X, X_test = _states(3000, 1), _states(300, 2)
    y = _go_to_the_free_landmark(X)
    P = np.eye(2, dtype=np.float32)[y]
    student.fit(X, P, feature_names=NAMES, action_names=["wait", "go"])
    loaded = Student.load(student.save(tmp_path / "s.json"))
    assert type(loaded) is type(student) and loaded.content_hash == student.content_hash
    np.testing.assert_array_equal(loaded.predict(X_test), student.predict(X_test))
    namespace: dict = {}
    exec(python_source(student), namespace)  # the generated module, standard library only
    exported = [namespace["decide_index"](row.tolist()) for row in X_test]
    np.testing.assert_array_equal(exported, student.predict(X_test))
    assert student.cost().ops_per_decision > student.student_.cost().ops_per_decision  # featurizing is counted
    assert student.decide(X_test[0]) in ("wait", "go")


def test_the_entity_tree_beats_a_raw_tree_of_the_same_depth_on_a_cross_entity_rule() -> None:
    X, X_test = _states(4000, 3), _states(1000, 4)
    P = np.eye(2, dtype=np.float32)[_go_to_the_free_landmark(X)]
    y_test = _go_to_the_free_landmark(X_test)
    raw = TreeStudent(max_depth=3).fit(X, P, feature_names=NAMES)
    ent = EntityTreeStudent(max_depth=3).fit(X, P, feature_names=NAMES)
    assert isinstance(ent, FeaturizedStudent)
    assert (ent.predict(X_test) == y_test).mean() > (raw.predict(X_test) == y_test).mean() + 0.1
