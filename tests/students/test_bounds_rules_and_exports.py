"""Families acting in a Box: bounds, trees and rules with linear leaves, the hybrid's tolerance, and
exports (Python imported fresh, C compiled with ``cc``, ONNX run by onnxruntime) equal to
``predict``. The contract every family keeps is in ``test_contract.py``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest

from hybrid.errors import DataError, ParameterError
from hybrid.exports import export_c, export_onnx, export_python
from hybrid.spaces import BoxActions
from hybrid.students import Student, registered_families
from hybrid.students._split_tree import LeafTree

FAMILIES = sorted(registered_families(action_kind=BoxActions.kind))
FAST = {
    "mlp_regressor": {"hidden_sizes": (8,), "epochs": 30},
    "regression_tree": {"max_depth": 5},
    "linear_rules": {"max_rules": 8},
    "hybrid_regressor": {"max_rules": 4, "hidden_sizes": (8,), "epochs": 30},
}
CASES = [(f, {}) for f in FAMILIES] + [
    ("regression_tree", {"leaf_model": "linear", "max_leaf_nodes": 12, "max_depth": None}),
    ("mlp_regressor", {"hidden_sizes": (6, 5), "activation": "relu", "epochs": 10}),
    ("linear_rules", {"max_rules": 3, "leaf_model": "constant"}),
    ("linear_rules", {"max_rules": 8, "oblique": True}),
    ("hybrid_regressor", {"max_rules": 6, "tau": 1.0, "hidden_sizes": (4,), "epochs": 5}),
]
LOW, HIGH = np.array([-2.0, -1.0]), np.array([2.0, 1.0])
N_STATES = 10_000


def controller(X: np.ndarray) -> np.ndarray:
    """A smooth two-dimensional controller with saturation: what a robot policy looks like."""
    a0 = -3.0 * X[:, 0] + 1.5 * X[:, 1] * X[:, 2]
    a1 = np.sin(2.0 * X[:, 2]) - 0.5 * X[:, 0]
    return np.clip(np.stack([a0, a1], axis=1), LOW, HIGH)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).uniform(-1, 1, size=(3000, 3)).astype(np.float32)
    return X, controller(X)


def fitted(family: str, overrides: dict, data) -> Student:
    X, A = data
    student = registered_families()[family](**{**FAST.get(family, {}), **overrides})
    return student.fit(X, A, action_low=LOW, action_high=HIGH, feature_names=["angle", "velocity", "load"], action_names=["torque", "thrust"])


def probe(student: Student, X: np.ndarray, seed: int) -> np.ndarray:
    """``N_STATES`` float32 states around the data (some far outside), a tenth on axis split bounds."""
    rng = np.random.default_rng(seed)
    states = X[rng.integers(len(X), size=N_STATES)] + rng.normal(size=(N_STATES, X.shape[1])) * 1.5 * X.std(axis=0)
    tree = getattr(student, "rules_", student)
    if isinstance(tree, LeafTree) and (tree.feature_ >= 0).any():
        inner = np.flatnonzero((tree.feature_ >= 0) & (tree.feature_ < X.shape[1]))
        for row in rng.choice(N_STATES, size=N_STATES // 10, replace=False):
            node = inner[rng.integers(len(inner))]
            states[row, tree.feature_[node]] = tree.threshold_[node]
    return states.astype(np.float32)


def test_default_bounds_are_the_teacher_range_and_bad_bounds_are_refused(data) -> None:
    X, A = data
    tree = registered_families()["regression_tree"](max_depth=3).fit(X, A)
    np.testing.assert_allclose(tree.action_low_, A.min(axis=0))
    with pytest.raises(DataError, match="high > low"):
        registered_families()["regression_tree"]().fit(X, A, action_low=[1, 1], action_high=[0, 2])


def test_linear_leaves_read_as_controllers_and_beat_constant_leaves(data) -> None:
    X, A = data
    constant = fitted("regression_tree", {"max_leaf_nodes": 8, "max_depth": None}, data)
    linear = fitted("regression_tree", {"max_leaf_nodes": 8, "max_depth": None, "leaf_model": "linear"}, data)
    err = lambda s: float(np.mean((s.predict(X) - A) ** 2))  # noqa: E731
    assert err(linear) < err(constant) / 2
    rules = linear.rules()
    assert len(rules) == linear.n_leaves_ == 8
    assert all(r.startswith("IF ") and " THEN torque = " in r and ", thrust = " in r for r in rules)
    assert any("·angle" in r for r in rules)


def test_rules_grown_for_linear_leaves_need_fewer_rules_than_cart_splits(data) -> None:
    """Scoring splits by the linear fit they leave (M5-style) beats CART splits with linear leaves added after."""
    X, A = data
    err = lambda s: float(np.mean((s.predict(X) - A) ** 2))  # noqa: E731
    cart = fitted("regression_tree", {"max_leaf_nodes": 4, "max_depth": None, "leaf_model": "linear"}, data)
    grown = fitted("linear_rules", {"max_rules": 4}, data)
    assert grown.n_leaves_ <= 4 and err(grown) < err(cart)


def test_oblique_rules_split_on_a_diagonal_switch_and_count_its_weights(tmp_path) -> None:
    """A controller that switches sign across ``x0 + x1 = 0`` needs one oblique condition, many
    axis-aligned ones; the weights are counted in the cost and kept in the artifact."""
    X = np.random.default_rng(1).uniform(-1, 1, size=(3000, 3)).astype(np.float32)
    A = np.where(X[:, :1] + X[:, 1:2] > 0, 1.0, -1.0) * (0.5 + 0.3 * X[:, 2:3])
    make = registered_families()["linear_rules"]
    kw = dict(max_rules=2, action_low=[-1.0], action_high=[1.0], feature_names=["x", "v", "load"])
    axis = make(max_rules=2).fit(X, A, **{k: v for k, v in kw.items() if k != "max_rules"})
    oblique = make(max_rules=2, oblique=True).fit(X, A, **{k: v for k, v in kw.items() if k != "max_rules"})
    err = lambda s: float(np.mean((s.predict(X) - A) ** 2))  # noqa: E731
    assert err(oblique) < err(axis) / 4
    assert (oblique.feature_ >= X.shape[1]).any() and any("·x" in r and "·v" in r.split(" THEN ")[0] for r in oblique.rules())
    assert oblique.cost().ops_per_decision >= axis.cost().ops_per_decision + 2  # the projection's multiply-adds
    loaded = Student.load(oblique.save(tmp_path / "s.json"))
    assert loaded.content_hash == oblique.content_hash and loaded.rules() == oblique.rules()
    np.testing.assert_array_equal(loaded.predict(X), oblique.predict(X))
    assert "oblique" not in axis.to_dict()["state"]  # axis-only artifacts keep their form


def _import_fresh(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_python_export_equals_predict(case, data, tmp_path) -> None:
    student = fitted(*case, data)
    states = probe(student, data[0], seed=5)
    module = _import_fresh(export_python(student, tmp_path / "student.py"), f"exported_{case[0]}")
    decided = np.array([module.decide(row) for row in states.astype(np.float64).tolist()])
    np.testing.assert_allclose(decided, student.predict(states), rtol=1e-6, atol=1e-12)
    assert module.ACTION_NAMES == ("torque", "thrust") and module.CONTENT_HASH == student.content_hash


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_c_export_compiled_equals_predict(case, data, tmp_path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler (cc)")
    student = fitted(*case, data)
    states = probe(student, data[0], seed=6)
    export_c(student, tmp_path / "student.h")
    m, d = student.n_actions_, states.shape[1]
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "student.h"\n'
        f"int main(void) {{ double s[{d}], a[{m}]; int i;\n"
        f'  for (;;) {{ for (i = 0; i < {d}; i++) if (scanf("%lf", s + i) != 1) return 0;\n'
        f'    decide(s, a); for (i = 0; i < {m}; i++) printf("%.17g ", a[i]); printf("\\n"); }}\n}}\n'
    )
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"), "-lm"], check=True)
    text = "\n".join(" ".join(repr(v) for v in row) for row in states.astype(np.float64).tolist())
    out = subprocess.run([str(tmp_path / "main")], input=text, capture_output=True, text=True, check=True).stdout
    decided = np.array(out.split(), dtype=np.float64).reshape(-1, m)
    np.testing.assert_allclose(decided, student.predict(states), rtol=1e-6, atol=1e-12)


def test_onnx_export_equals_predict(data, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    student = fitted("mlp_regressor", {}, data)
    states = probe(student, data[0], seed=7)
    session = ort.InferenceSession(str(export_onnx(student, tmp_path / "s.onnx")), providers=["CPUExecutionProvider"])
    (decided,) = session.run(["action"], {"state": states})
    np.testing.assert_allclose(decided, student.predict(states), rtol=1e-6, atol=1e-12)


def test_hybrid_keeps_rules_within_tolerance_and_asks_the_mlp_elsewhere(data) -> None:
    X = data[0]
    strict = fitted("hybrid_regressor", {"max_rules": 6, "tau": 1.0, "tolerance": 0.01}, data)
    loose = fitted("hybrid_regressor", {"max_rules": 6, "tau": 0.5, "tolerance": 0.2}, data)
    assert strict.coverage_ < loose.coverage_ and loose.coverage_ > 0.5
    assert strict.mlp_ is not None and any(r.endswith("ask the MLP") for r in strict.rules())
    kept = strict.enabled_[strict.rules_.apply(X)]
    np.testing.assert_array_equal(strict.predict(X)[kept], strict.rules_.predict(X)[kept])
    np.testing.assert_array_equal(strict.predict(X)[~kept], strict.mlp_.predict(X[~kept]))


@pytest.mark.parametrize(
    ("family", "params", "match"),
    [
        ("regression_tree", {"leaf_model": "spline"}, "leaf_model"),
        ("regression_tree", {"ridge": -1.0}, "ridge"),
        ("linear_rules", {"max_rules": 0}, "max_rules"),
        ("mlp_regressor", {"activation": "gelu"}, "activation"),
        ("hybrid_regressor", {"tolerance": 0.0}, "tolerance"),
    ],
)
def test_a_hyperparameter_out_of_range_is_a_parameter_error(data, family, params, match) -> None:
    X, A = data
    with pytest.raises(ParameterError, match=match):
        registered_families()[family](**params).fit(X, A)
