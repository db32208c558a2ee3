"""RuleListStudent: readable text that round-trips, exact extraction from its tree, folding,
merging, pruning to K rules, coverage and confidence, abstention, oblique conditions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hybrid.errors import DataError, ParameterError
from hybrid.metrics import fidelity
from hybrid.students._base import Student
from hybrid.students.rules import MAX_OBLIQUE_FEATURES, RuleListStudent
from hybrid.students.tree import TreeStudent
from provenance.hashing import canonical_json

LINE = re.compile(r"^IF .+ THEN (push_left|push_right)   # covers \d+\.\d%, agrees \d+\.\d%$")


@pytest.fixture(scope="module")
def cartpole_rules(cartpole_split):
    d = cartpole_split
    return RuleListStudent(max_depth=4).fit(d["X"], d["P"], feature_names=d["feature_names"], action_names=d["action_names"])


def test_text_reads_as_if_then_lines_with_names_and_round_trips_through_the_artifact(cartpole_rules):
    text = cartpole_rules.to_text()
    lines = text.splitlines()
    assert all(LINE.match(line) for line in lines[:-1]), text
    assert re.match(r"^(ELSE|OTHERWISE) push_(left|right)   # covers \d+\.\d%, agrees \d+\.\d%$", lines[-1])
    assert any(name in text for name in ("pole_angle", "pole_angular_velocity"))
    stored = json.loads(canonical_json(cartpole_rules.to_dict()))
    again = Student.from_dict(stored)
    assert again.to_text() == text
    assert again.to_dict() == cartpole_rules.to_dict()


def test_rules_decide_exactly_as_the_tree_they_come_from(cartpole_split, cartpole_rules, probe):
    d = cartpole_split
    tree = TreeStudent(max_depth=4, min_samples_leaf=5).fit(d["X"], d["P"])
    inner = tree.feature_ >= 0
    states = probe(d["X"], list(zip(tree.feature_[inner], tree.threshold_[inner])), 10_000, seed=3)
    np.testing.assert_array_equal(cartpole_rules.predict(states), tree.predict(states))
    assert len(cartpole_rules.rules_) <= (tree.feature_ < 0).sum()


def test_each_rule_tests_a_feature_at_most_once_and_coverage_adds_up(cartpole_split, cartpole_rules):
    X, labels = cartpole_split["X"], cartpole_split["P"].argmax(axis=1)
    fired = cartpole_rules.match(X)
    for i, rule in enumerate(cartpole_rules.rules_):
        assert len({c.features for c in rule.conditions}) == len(rule.conditions)
        assert rule.coverage == pytest.approx(np.mean(fired == i))
        assert rule.confidence == pytest.approx(np.mean(labels[fired == i] == rule.action))
    total = sum(r.coverage for r in cartpole_rules.rules_) + cartpole_rules.default_coverage_
    assert total == pytest.approx(1.0)
    coverages = [r.coverage for r in cartpole_rules.rules_]
    assert coverages == sorted(coverages, reverse=True)


def test_leaves_with_the_same_action_merge_and_order_drops_what_earlier_rules_catch():
    """Four soft leaves along x (teacher p(1) = .1, .3, .7, .9) are two decisions: x <= .5 or not;
    once the first rule has caught one side, the second needs no condition."""
    X = np.linspace(0, 1, 400, dtype=np.float32)[:, None]
    p1 = np.select([X[:, 0] < 0.25, X[:, 0] < 0.5, X[:, 0] < 0.75], [0.1, 0.3, 0.7], 0.9)
    rules = RuleListStudent(max_depth=2, simplify=True).fit(X, np.column_stack([1 - p1, p1]), action_names=["no", "yes"])
    assert sorted(r.action for r in rules.rules_) == [0, 1]
    assert [len(r.conditions) for r in rules.rules_] == [1, 0]
    assert rules.to_text().splitlines()[-1].startswith("OTHERWISE ")
    np.testing.assert_array_equal(rules.predict(X), (X[:, 0] > X[199, 0]).astype(int))


@pytest.mark.parametrize("params", [dict(max_depth=4), dict(max_depth=6, max_rules=12), dict(max_depth=4, oblique=True)])
def test_simplify_shortens_rules_without_changing_a_decision_and_plain_rules_stay_disjoint(cartpole_split, probe, params):
    d = cartpole_split
    plain = RuleListStudent(**params).fit(d["X"], d["P"])
    short = RuleListStudent(**params, simplify=True).fit(d["X"], d["P"])
    states = probe(d["X"], [], 10_000, seed=4)
    np.testing.assert_array_equal(short.match(states), plain.match(states))
    np.testing.assert_array_equal(short.predict_proba(states), plain.predict_proba(states))
    assert sum(map(len, (r.conditions for r in short.rules_))) < sum(map(len, (r.conditions for r in plain.rules_)))
    assert short.cost().ops_per_decision < plain.cost().ops_per_decision
    holding = np.array([r.holds(states) for r in plain.rules_]).sum(axis=0)
    assert holding.max() == 1  # disjoint boxes: at most one plain rule holds anywhere


def test_pruning_keeps_the_k_rules_covering_most_and_the_rest_fall_to_the_default(cartpole_split, cartpole_rules):
    d = cartpole_split
    pruned = RuleListStudent(max_depth=4, max_rules=2).fit(d["X"], d["P"])
    assert len(pruned.rules_) <= 2
    assert pruned.default_coverage_ > 0
    fired = pruned.match(d["X"])
    np.testing.assert_array_equal(pruned.predict(d["X"])[fired == -1], pruned.default_action_)
    np.testing.assert_array_equal(pruned.predict_proba(d["X"][fired == -1]), np.tile(pruned.default_proba_, ((fired == -1).sum(), 1)))
    # rules predicting the default action are dropped first: the default decides those states alike
    assert all(r.action != pruned.default_action_ for r in pruned.rules_)
    # with room for every rule, only those the default decides alike go: no decision changes
    lossless = RuleListStudent(max_depth=4, max_rules=len(cartpole_rules.rules_)).fit(d["X"], d["P"])
    assert len(lossless.rules_) < len(cartpole_rules.rules_)
    np.testing.assert_array_equal(lossless.predict(d["X_test"]), cartpole_rules.predict(d["X_test"]))


def test_match_abstains_with_minus_one_where_no_rule_holds(three_actions):
    X, P = three_actions
    rules = RuleListStudent(max_depth=3, max_rules=1).fit(X, P)
    fired = rules.match(X)
    assert set(np.unique(fired)) <= {-1, 0}
    assert (fired == -1).any() and (fired == 0).any()
    np.testing.assert_array_equal(fired == 0, rules.rules_[0].holds(X))


def test_oblique_conditions_use_at_most_three_features_and_beat_axis_aligned_rules(cartpole_split):
    d = cartpole_split
    axis = RuleListStudent(max_depth=3).fit(d["X"], d["P"])
    oblique = RuleListStudent(max_depth=3, oblique=True).fit(d["X"], d["P"], feature_names=d["feature_names"])
    assert any(c.oblique for r in oblique.rules_ for c in r.conditions)
    assert all(len(c.features) <= MAX_OBLIQUE_FEATURES for r in oblique.rules_ for c in r.conditions)
    assert fidelity(d["P_test"], oblique.predict(d["X_test"])) >= 0.93
    assert fidelity(d["P_test"], oblique.predict(d["X_test"])) > fidelity(d["P_test"], axis.predict(d["X_test"]))
    assert "·pole_angle" in oblique.to_text()


def test_cost_counts_checks_up_to_the_deciding_rule_averaged_over_training_states(three_actions):
    X, P = three_actions
    rules = RuleListStudent(max_depth=3, max_rules=3).fit(X, P)
    per_rule = np.cumsum([sum(c.operations for c in r.conditions) for r in rules.rules_])
    fired = rules.match(X)
    expected = np.where(fired >= 0, per_rule[np.maximum(fired, 0)], per_rule[-1]).mean()
    assert rules.cost().ops_per_decision == pytest.approx(expected)
    assert rules.cost().parameters == per_rule[-1] + len(rules.rules_) + 1


def test_names_must_match_the_data(three_actions):
    X, P = three_actions
    with pytest.raises(DataError, match="feature_names has 2 names but the data has 3 features"):
        RuleListStudent().fit(X, P, feature_names=["a", "b"])
    with pytest.raises(DataError, match="action_names"):
        RuleListStudent().fit(X, P, action_names=["left"])
    with pytest.raises(ParameterError, match="max_rules"):
        RuleListStudent(max_rules=-1).fit(X, P)


@pytest.mark.slow
def test_readable_oblique_rules_with_dagger_keep_95_percent_of_lunar_lander_return():
    """Issue 5, target 2: ≤ 32 rules, conditions over ≤ 3 features, ≥ 95% of the teacher's return
    on 30 episodes it never saw (DAgger picks its iterate on other seeds). Measured: 19 rules,
    250.1 vs the teacher's 247.7."""
    from hybrid.loop.dagger import dagger
    from hybrid.loop.rollouts import evaluate
    from hybrid.teachers.zoo import load_teacher

    env, teacher = "LunarLander-v3", load_teacher("LunarLander-v3")
    student = RuleListStudent(max_depth=None, max_leaf_nodes=40, max_rules=32, oblique=True, simplify=True)
    rules = dagger(env, teacher, student, iterations=6, episodes_per_iteration=8, seed=0).student
    assert len(rules.rules_) <= 32
    assert all(len(c.features) <= MAX_OBLIQUE_FEATURES for r in rules.rules_ for c in r.conditions)
    teacher_return, _ = evaluate(env, teacher, episodes=30, seed=7)
    rules_return, _ = evaluate(env, rules, episodes=30, seed=7)
    assert rules_return >= 0.95 * teacher_return, (rules_return, teacher_return)
