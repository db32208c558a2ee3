"""ONNX export of MLP students: ONNX Runtime agrees with predict on 10k states."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hybrid.errors import ExportError
from hybrid.exports.onnx import export_onnx
from hybrid.students.mlp import MLPStudent

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cartpole(cartpole_split):
    return cartpole_split["X"][:3000].copy(), cartpole_split["P"][:3000].copy()


@pytest.fixture(scope="module")
def states(cartpole):
    X, _ = cartpole
    return np.random.default_rng(3).uniform(X.min(axis=0), X.max(axis=0), size=(10_000, 4)).astype(np.float32)


@pytest.mark.parametrize("hidden_sizes, activation", [((32,), "relu"), ((), "relu"), ((8, 4), "tanh")])
def test_onnx_runtime_matches_predict_on_10k_states(tmp_path, cartpole, states, hidden_sizes, activation):
    X, P = cartpole
    student = MLPStudent(hidden_sizes=hidden_sizes, activation=activation, epochs=10).fit(X, P)
    path = export_onnx(student, tmp_path / "student.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    proba, action = session.run(["probabilities", "action"], {"state": states})
    np.testing.assert_allclose(proba, student.predict_proba(states), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(action, student.predict(states))


def test_the_model_carries_the_students_content_hash(tmp_path, cartpole):
    X, P = cartpole
    student = MLPStudent(hidden_sizes=(4,), epochs=2).fit(X[:500], P[:500])
    model = onnx.load(str(export_onnx(student, tmp_path / "s.onnx")))
    props = {p.key: p.value for p in model.metadata_props}
    assert props == {"content_hash": student.content_hash, "family": "mlp"}


def test_only_mlp_students_export_to_onnx(tmp_path):
    with pytest.raises(ExportError, match="Python or C"):
        export_onnx(object(), tmp_path / "x.onnx")


def test_missing_onnx_names_the_extra_to_install(tmp_path, monkeypatch, cartpole):
    X, P = cartpole
    student = MLPStudent(hidden_sizes=(), epochs=1).fit(X[:100], P[:100])
    monkeypatch.setitem(sys.modules, "onnx", None)  # what Python sees when onnx is not installed
    with pytest.raises(ExportError, match=r"pip install agent-distill\[onnx\]"):
        export_onnx(student, tmp_path / "s.onnx")
