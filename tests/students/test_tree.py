"""TreeStudent: CartPole fidelity, equality with scikit-learn, exact float32 split bounds, cost."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from hybrid.errors import ParameterError
from hybrid.metrics import fidelity
from hybrid.students.tree import TreeStudent, f32_split_bound


def test_depth_4_tree_reaches_090_fidelity_on_held_out_cartpole_episodes(cartpole_split):
    d = cartpole_split
    tree = TreeStudent(max_depth=4).fit(d["X"], d["P"])
    assert tree.depth_ == 4
    assert fidelity(d["P_test"], tree.predict(d["X_test"])) >= 0.90


@pytest.mark.parametrize("params", [dict(max_depth=6), dict(max_leaf_nodes=20, min_samples_leaf=5), dict(max_depth=None)])
def test_soft_tree_equals_scikit_learn_regressor_exactly_including_states_on_thresholds(three_actions, probe, params):
    X, P = three_actions
    tree = TreeStudent(**params, random_state=3).fit(X, P)
    reference = DecisionTreeRegressor(**params, random_state=3).fit(X, P)
    inner = tree.feature_ >= 0
    states = probe(X, list(zip(tree.feature_[inner], tree.threshold_[inner])), 5000, seed=1)
    np.testing.assert_array_equal(tree.predict_proba(states), reference.predict(states))
    np.testing.assert_array_equal(tree.apply(states), reference.apply(states))


def test_hard_tree_uses_argmax_labels_and_sample_weight_like_scikit_learn(three_actions, probe):
    X, P = three_actions
    w = np.linspace(0.1, 2.0, len(X))
    tree = TreeStudent(max_depth=5, criterion="hard").fit(X, P, sample_weight=w)
    reference = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, P.argmax(axis=1), sample_weight=w)
    states = probe(X, [], 3000, seed=2)
    np.testing.assert_array_equal(tree.predict(states), reference.predict(states))
    np.testing.assert_allclose(tree.predict_proba(states), reference.predict_proba(states), rtol=0, atol=1e-12)


def test_hard_tree_keeps_every_action_column_when_a_label_never_occurs():
    X = np.arange(20, dtype=np.float32)[:, None]
    tree = TreeStudent(criterion="hard").fit(X, np.where(X[:, 0] < 10, 0, 2))
    assert tree.n_actions_ == 3
    assert tree.predict_proba(X).shape == (20, 3)
    np.testing.assert_array_equal(tree.predict(X), np.where(X[:, 0] < 10, 0, 2))


def test_split_bound_sends_every_double_to_the_side_of_its_float32_rounding():
    rng = np.random.default_rng(0)
    singles = np.concatenate([rng.normal(size=300), rng.normal(scale=1e-30, size=30), [0.0, 1.0, -1.0, 0.5]]).astype(np.float32)
    # scikit-learn's thresholds: float32 values and midpoints between neighbouring ones (doubles)
    thresholds = np.concatenate([singles, (singles.astype(np.float64) + np.nextafter(singles, np.float32(np.inf))) / 2])
    for t in thresholds:
        b = f32_split_bound(t)
        lo = np.float32(t) if np.float32(t) <= t else np.nextafter(np.float32(t), np.float32(-np.inf))
        up = float(np.nextafter(lo, np.float32(np.inf)))
        near = np.array([b, np.nextafter(b, np.inf), np.nextafter(b, -np.inf), t, float(lo), up, (float(lo) + up) / 2])
        np.testing.assert_array_equal(near <= b, near.astype(np.float32) <= t, err_msg=f"threshold {t!r}")


def test_cost_is_mean_path_length_over_training_states_and_node_count(three_actions):
    X, P = three_actions
    tree = TreeStudent(max_leaf_nodes=12).fit(X, P)
    leaves = tree.apply(X)
    depth_of = {0: 0}
    for node in range(len(tree.feature_)):
        if tree.feature_[node] >= 0:
            depth_of[int(tree.left_[node])] = depth_of[int(tree.right_[node])] = depth_of[node] + 1
    cost = tree.cost()
    assert cost.ops_per_decision == pytest.approx(np.mean([depth_of[int(n)] for n in leaves]))
    assert cost.parameters == len(tree.feature_) == 23
    assert cost.ops_per_decision < tree.depth_


def test_unknown_criterion_and_rejected_hyperparameters_name_the_fix(three_actions):
    X, P = three_actions
    with pytest.raises(ParameterError, match="criterion must be one of"):
        TreeStudent(criterion="gini").fit(X, P)
    with pytest.raises(ParameterError, match="max_depth"):
        TreeStudent(max_depth=0).fit(X, P)
