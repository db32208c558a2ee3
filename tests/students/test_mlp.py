"""MLPStudent: fidelity on CartPole teacher data, numpy == torch, determinism, exact artifact, exports."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from sklearn.base import clone

from hybrid.errors import DataError, NotFittedError, ParameterError
from hybrid.students._base import Student
from hybrid.students.mlp import MLPStudent
from provenance.hashing import canonical_json

FAST = dict(epochs=15, max_train_states=3000)


@pytest.fixture(scope="module")
def cartpole(cartpole_split):
    """5k training states of the committed CartPole teacher; held-out states from later episodes."""
    s = cartpole_split
    return s["X"][:5000].copy(), s["P"][:5000].copy(), s["X_test"].copy(), s["P_test"].copy()


@pytest.fixture(scope="module")
def mlp32(cartpole):
    X, P, _, _ = cartpole
    return MLPStudent(hidden_sizes=(32,), epochs=30).fit(X, P)


def _fidelity(student, X, P):
    return float(np.mean(student.predict(X) == P.argmax(axis=1)))


def test_32_hidden_units_reach_097_fidelity_on_held_out_cartpole_states(mlp32, cartpole):
    _, _, X_test, P_test = cartpole
    assert _fidelity(mlp32, X_test, P_test) >= 0.97


@pytest.mark.parametrize("hidden_sizes, activation", [((32,), "relu"), ((), "relu"), ((8, 4), "tanh")])
def test_numpy_inference_equals_the_torch_forward(cartpole, hidden_sizes, activation):
    X, P, X_test, _ = cartpole
    student = MLPStudent(hidden_sizes=hidden_sizes, activation=activation, **FAST).fit(X, P)
    with torch.no_grad():
        torch_proba = torch.softmax(student.torch_module()(torch.as_tensor(X_test)), dim=1).numpy()
    np.testing.assert_allclose(student.predict_proba(X_test), torch_proba, atol=1e-5, rtol=0)


def test_same_data_and_seed_give_the_same_hash_twice_and_another_seed_does_not(cartpole):
    X, P, _, _ = cartpole
    first = MLPStudent(hidden_sizes=(8,), **FAST).fit(X, P).content_hash
    second = MLPStudent(hidden_sizes=(8,), **FAST).fit(X, P).content_hash
    other = MLPStudent(hidden_sizes=(8,), random_state=1, **FAST).fit(X, P).content_hash
    assert first == second != other


def test_artifact_round_trips_exactly_through_dict_and_file(mlp32, cartpole, tmp_path):
    X_test = cartpole[2]
    again = Student.from_dict(mlp32.to_dict())
    assert isinstance(again, MLPStudent) and again.content_hash == mlp32.content_hash
    np.testing.assert_array_equal(again.predict_proba(X_test), mlp32.predict_proba(X_test))
    loaded = MLPStudent.load(mlp32.save(tmp_path / "mlp.json"))
    assert loaded.to_dict() == mlp32.to_dict()
    # weights are float32 values: each one survives a float32 round trip unchanged
    W = np.asarray(mlp32.to_dict()["state"]["layers"][0]["weight"])
    np.testing.assert_array_equal(W.astype(np.float32).astype(np.float64), W)


def test_standardisation_is_folded_so_the_artifact_takes_raw_badly_scaled_states(cartpole):
    X, P, X_test, P_test = cartpole
    offset, scale = np.array([500.0, -3.0, 40.0, 7.0]), np.array([1e3, 1.0, 1e-2, 50.0])
    student = MLPStudent(hidden_sizes=(16,), epochs=30).fit(X * scale + offset, P)
    assert [len(layer) for layer in student.to_dict()["state"]["layers"][0].values()] == [16, 16]
    assert _fidelity(student, X_test * scale + offset, P_test) >= 0.95


def test_cost_counts_weights_biases_and_multiply_adds():
    X = np.random.default_rng(0).normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    for hidden, parameters, ops in [((32,), 4 * 32 + 32 + 32 * 2 + 2, 4 * 32 + 32 * 2), ((), 4 * 2 + 2, 8)]:
        student = MLPStudent(hidden_sizes=hidden, epochs=2).fit(X, y)
        cost = student.cost()
        assert (cost.parameters, cost.ops_per_decision) == (parameters, ops)
        assert cost.bytes == len(canonical_json(student.to_dict()))


def test_sample_weight_decides_which_of_two_contradicting_teachers_is_learned():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = np.concatenate([X[:1000, 0] > 0, X[1000:, 0] <= 0]).astype(int)
    first_half = np.r_[np.ones(1000), np.zeros(1000)]
    X_test = rng.normal(size=(1000, 3))
    follows_first = MLPStudent(hidden_sizes=(8,), epochs=20).fit(X, y, sample_weight=first_half)
    follows_second = MLPStudent(hidden_sizes=(8,), epochs=20).fit(X, y, sample_weight=1 - first_half)
    assert np.mean(follows_first.predict(X_test) == (X_test[:, 0] > 0)) >= 0.95
    assert np.mean(follows_second.predict(X_test) == (X_test[:, 0] <= 0)) >= 0.95


def test_uniform_weights_change_nothing(cartpole):
    X, P, _, _ = cartpole
    plain = MLPStudent(hidden_sizes=(4,), **FAST).fit(X, P)
    weighted = MLPStudent(hidden_sizes=(4,), **FAST).fit(X, P, sample_weight=np.full(len(X), 2.5))
    assert plain.content_hash == weighted.content_hash


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(cartpole):
    X, P, _, _ = cartpole
    student = MLPStudent(hidden_sizes=(8,), epochs=500, patience=3, max_train_states=2000).fit(X, P)
    assert student.best_epoch_ < student.epochs_run_ < 500
    assert 0.9 <= student.val_fidelity_ <= 1.0
    no_validation = MLPStudent(hidden_sizes=(8,), epochs=4, val_fraction=0.0).fit(X[:500], P[:500])
    assert (no_validation.best_epoch_, no_validation.epochs_run_, no_validation.val_fidelity_) == (3, 4, None)


def test_sklearn_clone_and_params_round_trip():
    student = MLPStudent(hidden_sizes=(5, 3), activation="tanh", lr=3e-3)
    assert clone(student).get_params() == student.get_params()
    assert student.set_params(alpha=0.2).alpha == 0.2


@pytest.mark.parametrize(
    "make_bad, fix",
    [
        (lambda X, P: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), P), "NaN"),
        (lambda X, P: (X[:0], P[:0]), "empty"),
        (lambda X, P: (X, P[:-1]), "rows"),
    ],
)
def test_bad_input_raises_data_error_naming_the_problem(cartpole, make_bad, fix):
    X, P = make_bad(*cartpole[:2])
    with pytest.raises(DataError, match=fix):
        MLPStudent(**FAST).fit(X, P)


def test_bad_hyperparameters_and_use_before_fit_are_reported():
    X, y = np.random.default_rng(0).normal(size=(50, 2)), np.arange(50) % 2
    with pytest.raises(ParameterError, match="activation"):
        MLPStudent(activation="gelu").fit(X, y)
    with pytest.raises(NotFittedError, match="fit"):
        MLPStudent().predict(X)
    with pytest.raises(DataError, match="fitted on 2"):
        MLPStudent(epochs=1).fit(X, y).predict(np.zeros((3, 5)))


def _import_source(source: str, tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("hidden_sizes, activation", [((4,), "relu"), ((32,), "relu"), ((16,), "tanh")])
def test_python_export_decides_like_predict_on_10k_states(cartpole, tmp_path, hidden_sizes, activation):
    """Small nets export unrolled, larger ones as loops over lists: both paths are checked."""
    X, P, _, _ = cartpole
    student = MLPStudent(hidden_sizes=hidden_sizes, activation=activation, **FAST).fit(X, P)
    module = _import_source(student.python_source(), tmp_path, f"mlp_{activation}_{hidden_sizes[0]}")
    states = np.random.default_rng(1).uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)
    decided = np.array([module.decide(state) for state in states])
    np.testing.assert_array_equal(decided, student.predict(states))


def test_c_export_compiles_and_decides_like_predict(cartpole, c_decide):
    X, P, _, _ = cartpole
    student = MLPStudent(hidden_sizes=(16, 8), activation="tanh", **FAST).fit(X, P)
    states = np.random.default_rng(2).uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)
    np.testing.assert_array_equal(c_decide(student.c_source(), states), student.predict(states))
