"""Export an MLP student to ONNX, for runtimes that load ONNX models (ONNX Runtime, TensorRT…).

An interoperability path, not a speed path: for one decision the generated Python or C is
faster. The graph is built directly with the ``onnx`` helper API (no torch tracing, no
network): ``state`` float32 ``[n, d]`` → Gemm/activation layers → ``probabilities`` float32
``[n, k]`` and ``action`` int64 ``[n]``. The student's content hash is stored in the model's
metadata, so an exported file can be traced back to its ledger entry.

``onnx`` is an optional extra: ``pip install agent-distill[onnx]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import ExportError

# Opset 17 / IR 8 load in every ONNX Runtime since 1.13; nothing newer is needed for Gemm nets.
OPSET = 17
IR_VERSION = 8


def export_onnx(student: Any, path: str | Path) -> Path:
    """Write ``student`` (a fitted MLPStudent) as an ONNX model at ``path``; returns the path."""
    from hybrid.students.mlp import MLPStudent

    if callable(getattr(student, "_onnx_model", None)):  # a family that builds its own graph (continuous MLPs)
        student._check_fitted()
        path = Path(path)
        path.write_bytes(student._onnx_model().SerializeToString())
        return path
    if not isinstance(student, MLPStudent):
        raise ExportError(f"ONNX export supports MLP students only, not {type(student).__name__}; export trees, rules and hybrids to Python or C instead.")
    model = onnx_model(student)
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    return path


def onnx_model(student: Any) -> Any:
    """The ``onnx.ModelProto`` for a fitted MLPStudent (checked with ``onnx.checker``)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    student._check_fitted()
    nodes, inits, h = [], [], "state"
    last = len(student.weights_) - 1
    for i, (W, b) in enumerate(zip(student.weights_, student.biases_)):
        inits += [
            numpy_helper.from_array(W.astype(np.float32), name=f"W{i}"),
            numpy_helper.from_array(b.astype(np.float32), name=f"b{i}"),
        ]
        out = "logits" if i == last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"b{i}"], [out], transB=1, name=f"layer{i}"))
        if i < last:
            act = "Relu" if student.activation == "relu" else "Tanh"
            nodes.append(helper.make_node(act, [out], [f"h{i}"], name=f"{act.lower()}{i}"))
            out = f"h{i}"
        h = out
    nodes += [
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"),
        helper.make_node("ArgMax", ["logits"], ["action"], axis=1, keepdims=0, name="argmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp_student",
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["n", student.n_features_in_])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", student.n_actions_]),
            helper.make_tensor_value_info("action", TensorProto.INT64, ["n"]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="agent-distill",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"MLP student {student.content_hash}: raw states in, action probabilities and index out.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"content_hash": student.content_hash, "family": student.family})
    onnx.checker.check_model(model)
    return model


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the optional onnx package: pip install agent-distill[onnx]") from None
    return onnx
