"""HybridStudent: held-out rule confidence, coverage against tau, the MLP and teacher fallbacks."""

from __future__ import annotations

import copy
import importlib.util
import itertools

import numpy as np
import pytest
from sklearn.base import clone

from hybrid.errors import DataError, NotFittedError, ParameterError
from hybrid.students._base import Student
from hybrid.students.hybrid import HybridStudent
from hybrid.teachers.zoo import load_teacher
from provenance.hashing import canonical_json

FAST = dict(rule_depth=4, hidden_sizes=(8,), epochs=15)


@pytest.fixture(scope="module")
def cartpole(cartpole_split):
    """5k training states of the committed CartPole teacher; held-out states from later episodes."""
    s = cartpole_split
    return s["X"][:5000].copy(), s["P"][:5000].copy(), s["X_test"].copy(), s["P_test"].copy()


@pytest.fixture(scope="module")
def hybrid(cartpole):
    X, P, _, _ = cartpole
    return HybridStudent(tau=0.9, **FAST).fit(X, P)


def _fidelity(student, X, P):
    return float(np.mean(student.predict(X) == P.argmax(axis=1)))


def test_coverage_falls_as_tau_rises_on_cartpole(cartpole):
    X, P, _, _ = cartpole
    taus = [0.0, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0]
    # rules and their held-out confidence do not depend on tau: fit once, then vary tau
    base = HybridStudent(tau=0.0, fallback="teacher", **FAST).fit(X, P, teacher=load_teacher("CartPole-v1"))
    coverages = []
    for tau in taus:
        student = HybridStudent(tau=tau, fallback="teacher", **FAST).fit(X, P, teacher=load_teacher("CartPole-v1"))
        assert student.rules_.to_dict() == base.rules_.to_dict()
        coverages.append(student.coverage_)
    assert all(a >= b for a, b in itertools.pairwise(coverages)), coverages
    assert coverages[0] > 0.9 and coverages[-1] == 0.0, coverages


def test_hybrid_is_faithful_and_mixes_rules_with_the_mlp(hybrid, cartpole):
    _, _, X_test, P_test = cartpole
    assert _fidelity(hybrid, X_test, P_test) >= 0.95
    assert 0.0 < hybrid.coverage_ < 1.0
    assert hybrid.mlp_.hidden_sizes == (8,)


def test_confidence_is_held_out_agreement_with_the_teacher_not_training_purity():
    """Where x0 < 0 the teacher is indifferent (its argmax flips at random): deep leaves look
    pure on their training states but agree only by chance on held-out ones, so they must not
    decide; where x0 > 0 the teacher is sure and the rules decide."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(6000, 2))
    p0 = np.where(X[:, 0] < 0, 0.5 + rng.uniform(-0.05, 0.05, size=len(X)), 0.01)
    P = np.column_stack([p0, 1 - p0])
    student = HybridStudent(tau=0.9, rule_depth=8, hidden_sizes=(4,), epochs=5).fit(X, P)
    left = np.array(
        [
            all(c.features != (0,) or (c.upper is not None and c.upper <= 0) for c in r.conditions)
            and any(c.features == (0,) and c.upper is not None and c.upper <= 0 for c in r.conditions)
            for r in student.rules_.rules_
        ]
    )
    training_purity = np.array([r.confidence for r in student.rules_.rules_])
    assert training_purity[left].mean() > student.rule_confidence_[left].mean() + 0.1
    X_test = rng.uniform(-1, 1, size=(2000, 2))
    decided = student._decided(X_test)
    assert not decided[X_test[:, 0] < 0].any()
    assert decided[X_test[:, 0] > 0.05].mean() > 0.95
    # measured on the calibration quarter only
    assert student.rule_calibration_states_.sum() <= round(0.25 * len(X))


def test_cost_is_rule_checks_plus_uncovered_share_of_mlp_operations(hybrid):
    cost = hybrid.cost()
    expected = hybrid.rule_checks_ + (1 - hybrid.coverage_) * hybrid.mlp_.cost().ops_per_decision
    assert cost.ops_per_decision == pytest.approx(expected)
    assert cost.parameters == hybrid.rules_.cost().parameters + hybrid.mlp_.cost().parameters
    assert cost.bytes == len(canonical_json(hybrid.to_dict()))


def test_router_finds_the_same_rule_as_the_ordered_list_for_fewer_operations(cartpole):
    X, P, _, _ = cartpole
    student = HybridStudent(tau=0.8, rule_depth=8, fallback="teacher").fit(X, P, teacher=load_teacher("CartPole-v1"))
    deciding = copy.copy(student.rules_)
    deciding.rules_ = [r for r, on in zip(student.rules_.rules_, student.enabled_rules_) if on]
    rng = np.random.default_rng(6)
    states = rng.uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)
    bounds = [(c.features[0], b) for r in deciding.rules_ for c in r.conditions for b in (c.lower, c.upper) if b is not None]
    for row in range(0, 10_000, 10):  # a tenth of the states exactly on a rule bound
        feature, value = bounds[rng.integers(len(bounds))]
        states[row, feature] = value
    rule, ops = student._route(states)
    np.testing.assert_array_equal(rule, deciding.match(states))
    list_ops = np.cumsum([sum(c.operations for c in r.conditions) for r in deciding.rules_])
    tried = np.where(rule >= 0, list_ops[np.maximum(rule, 0)], list_ops[-1])
    assert ops.mean() < tried.mean() / 2


@pytest.fixture(scope="module")
def oblique(cartpole):
    X, P, _, _ = cartpole
    return HybridStudent(tau=0.7, rule_depth=6, oblique=True, hidden_sizes=(4,), epochs=15).fit(X, P)


def test_router_counts_an_oblique_sum_once_per_path(oblique, cartpole):
    """A path pays one comparison per node and an oblique column's multiply-adds only where it
    first meets that column (the exports keep the sum in a local below that node)."""
    router = oblique._router
    assert any(w != (1.0,) for _, w in router.columns)
    X = cartpole[2][:500]
    rule, ops = router.route(X)
    repeats = 0  # nodes re-testing an oblique column their path computed already
    for x, r, spent in zip(X, rule, ops):
        node, expected, seen = 0, 0.0, set()
        while router.column[node] >= 0:
            c = int(router.column[node])
            f, w = router.columns[c]
            expected += 1 + (len(f) if w != (1.0,) and c not in seen else 0)
            repeats += w != (1.0,) and c in seen
            seen.add(c)
            z = float(np.dot(np.asarray(w, dtype=np.float64), x[list(f)].astype(np.float64)))
            node = router.left[node] if z <= router.threshold[node] else router.right[node]
        assert router.rule[node] == r
        assert spent == pytest.approx(expected)
    assert repeats > 0
    assert oblique.rule_checks_ == pytest.approx(router.route(cartpole[0])[1].mean())


def test_oblique_exports_decide_like_predict(oblique, cartpole, tmp_path, c_decide):
    X = cartpole[0]
    states = np.random.default_rng(7).uniform(X.min(axis=0), X.max(axis=0), size=(5_000, 4)).astype(np.float32)
    source = oblique.python_source()
    assert "z" in source and any(line.strip().startswith("z") and " = " in line for line in source.splitlines())
    path = tmp_path / "oblique_decide.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("oblique_decide", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = oblique.predict(states)
    np.testing.assert_array_equal(np.array([module.decide(state) for state in states]), expected)
    np.testing.assert_array_equal(c_decide(oblique.c_source(), states), expected)


def test_cascade_sends_uncovered_states_to_the_teacher_and_counts_its_share(cartpole):
    X, P, X_test, _ = cartpole
    teacher = load_teacher("CartPole-v1")
    cascade = HybridStudent(tau=0.97, fallback="teacher", **FAST).fit(X, P, teacher=teacher)
    decided = cascade._decided(X_test)
    assert (~decided).any()
    np.testing.assert_array_equal(cascade.predict(X_test[~decided]), teacher.predict(X_test[~decided]))
    assert cascade.teacher_share_ == pytest.approx(1 - cascade.coverage_)
    assert cascade.cost().ops_per_decision == pytest.approx(cascade.rule_checks_ + cascade.teacher_share_ * 4480)
    record = cascade.to_dict()["state"]["teacher"]
    assert record["content_hash"] == teacher.content_hash and cascade.to_dict()["state"]["mlp"] is None

    loaded = Student.from_dict(cascade.to_dict())
    with pytest.raises(NotFittedError, match="set_teacher"):
        loaded.predict(X_test)
    np.testing.assert_array_equal(loaded.set_teacher(teacher).predict(X_test), cascade.predict(X_test))


def test_cascade_refuses_a_different_teacher_after_loading(cartpole):
    X, P, _, _ = cartpole
    cascade = HybridStudent(fallback="teacher", **FAST).fit(X[:1000], P[:1000], teacher=load_teacher("CartPole-v1"))
    other = load_teacher("CartPole-v1")
    other.content_hash = "sha256:" + "0" * 64
    with pytest.raises(DataError, match="same teacher"):
        Student.from_dict(cascade.to_dict()).set_teacher(other)


def test_same_data_and_seed_give_the_same_hash_twice(cartpole):
    X, P, _, _ = cartpole
    first = HybridStudent(**FAST).fit(X, P).content_hash
    assert HybridStudent(**FAST).fit(X, P).content_hash == first
    assert HybridStudent(random_state=1, **FAST).fit(X, P).content_hash != first


def test_artifact_round_trips_exactly(hybrid, cartpole, tmp_path):
    X_test = cartpole[2]
    loaded = HybridStudent.load(hybrid.save(tmp_path / "hybrid.json"))
    assert loaded.content_hash == hybrid.content_hash
    np.testing.assert_array_equal(loaded.predict_proba(X_test), hybrid.predict_proba(X_test))
    assert loaded.to_text() == hybrid.to_text()


def test_text_lists_the_deciding_rules_and_names_the_mlp(hybrid):
    text = hybrid.to_text()
    assert text.count("IF ") == int(hybrid.enabled_rules_.sum()) > 0
    assert "held-out confidence" in text and "an MLP with 8 hidden units" in text.splitlines()[-1]


def test_sklearn_clone_keeps_params():
    student = HybridStudent(tau=0.8, fallback="teacher", hidden_sizes=(4,))
    assert clone(student).get_params() == student.get_params()


@pytest.mark.parametrize(
    "params, fit_kwargs, match",
    [
        (dict(fallback="oracle"), {}, "fallback"),
        (dict(tau=1.5), {}, "tau"),
        (dict(fallback="teacher"), {}, "teacher="),
        (dict(calibration_fraction=0.0), {}, "calibration"),
    ],
)
def test_bad_settings_raise_parameter_error_naming_the_fix(cartpole, params, fit_kwargs, match):
    X, P, _, _ = cartpole
    with pytest.raises(ParameterError, match=match):
        HybridStudent(**params).fit(X[:200], P[:200], **fit_kwargs)


def test_use_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        HybridStudent().predict(np.zeros((1, 4)))


def test_python_export_decides_like_predict_on_10k_states(hybrid, cartpole, tmp_path):
    X = cartpole[0]
    path = tmp_path / "hybrid_decide.py"
    path.write_text(hybrid.python_source())
    spec = importlib.util.spec_from_file_location("hybrid_decide", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    states = np.random.default_rng(4).uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)
    decided = np.array([module.decide(state) for state in states])
    np.testing.assert_array_equal(decided, hybrid.predict(states))


def test_cascade_python_export_returns_minus_one_where_the_teacher_decides(cartpole, tmp_path):
    X, P, X_test, _ = cartpole
    cascade = HybridStudent(tau=0.97, fallback="teacher", **FAST).fit(X, P, teacher=load_teacher("CartPole-v1"))
    path = tmp_path / "cascade_decide.py"
    path.write_text(cascade.python_source())
    spec = importlib.util.spec_from_file_location("cascade_decide", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    decided = cascade._decided(X_test)
    exported = np.array([module.decide(state) for state in X_test])
    np.testing.assert_array_equal(exported[~decided], -1)
    np.testing.assert_array_equal(exported[decided], cascade.predict(X_test[decided]))


def test_c_export_compiles_and_decides_like_predict(hybrid, cartpole, c_decide):
    X = cartpole[0]
    states = np.random.default_rng(5).uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)
    np.testing.assert_array_equal(c_decide(hybrid.c_source(), states), hybrid.predict(states))
