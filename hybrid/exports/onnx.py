"""Export an MLP student of either action kind to ONNX, for runtimes that load ONNX models (ONNX Runtime, TensorRT…).

An interoperability path, not a speed path: for one decision the generated Python or C is
faster. The graph is built directly with the ``onnx`` helper API (no torch tracing, no
network): ``state`` float32 ``[n, d]`` → Gemm/activation layers (``_layers``, shared) → a head
chosen by the student's action space:

- discrete actions: in float32, ``probabilities`` ``[n, k]`` (softmax) and ``action`` int64 ``[n]`` (argmax);
- a ``BoxActions`` space: in double (the state cast first, as the student computes), ``action``
  ``[n, m]`` = ``low + (tanh(z) + 1) / 2 · (high − low)`` clipped to the bounds.

The student's content hash is stored in the model's metadata, so an exported file can be traced
back to its ledger entry. ``onnx`` is an optional extra: ``pip install agent-distill[onnx]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import ExportError
from hybrid.spaces import BoxActions, DiscreteActions, action_space_of

# Opset 17 / IR 8 load in every ONNX Runtime since 1.13; nothing newer is needed for Gemm nets.
OPSET = 17
IR_VERSION = 8


def export_onnx(student: Any, path: str | Path) -> Path:
    """Write ``student`` (a fitted MLP student of either kind) as an ONNX model at ``path``; returns the path."""
    model = onnx_model(student)
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    return path


def onnx_model(student: Any) -> Any:
    """The ``onnx.ModelProto`` for a fitted MLP student (checked with ``onnx.checker``)."""
    from hybrid.students.mlp import MLPLayers

    if not isinstance(student, MLPLayers):
        raise ExportError(f"ONNX export supports MLP students only, not {type(student).__name__}; export trees, rules and hybrids to Python or C instead.")
    onnx = _import_onnx()
    from onnx import helper

    student._check_fitted()
    space = action_space_of(student)
    nodes, inits, outputs, doc = _HEADS[space.kind](student, space)
    graph = helper.make_graph(nodes, f"{student.family}_student", [_tensor("state", "FLOAT", ["n", student.n_features_in_])], outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="agent-distill", opset_imports=[helper.make_opsetid("", OPSET)], doc_string=f"{doc} {student.content_hash}")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"content_hash": student.content_hash, "family": student.family})
    onnx.checker.check_model(model)
    return model


def _layers(student: Any, x: str, dtype: Any, last: str) -> tuple[list[Any], list[Any]]:
    """Gemm/activation nodes from input ``x`` to output ``last``, weights in ``dtype``."""
    from onnx import helper, numpy_helper

    nodes, inits, h = [], [], x
    final = len(student.weights_) - 1
    for i, (W, b) in enumerate(zip(student.weights_, student.biases_)):
        inits += [numpy_helper.from_array(W.astype(dtype), name=f"W{i}"), numpy_helper.from_array(b.astype(dtype), name=f"b{i}")]
        out = last if i == final else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"b{i}"], [out], transB=1, name=f"layer{i}"))
        if i < final:
            act = "Relu" if student.activation == "relu" else "Tanh"
            nodes.append(helper.make_node(act, [out], [f"h{i}"], name=f"{act.lower()}{i}"))
            out = f"h{i}"
        h = out
    return nodes, inits


def _probabilities_head(student: Any, space: Any) -> tuple[list[Any], list[Any], list[Any], str]:
    """Float32 layers, then softmax probabilities and the argmax action."""
    from onnx import helper

    nodes, inits = _layers(student, "state", np.float32, "logits")
    nodes += [
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"),
        helper.make_node("ArgMax", ["logits"], ["action"], axis=1, keepdims=0, name="argmax"),
    ]
    outputs = [_tensor("probabilities", "FLOAT", ["n", space.n]), _tensor("action", "INT64", ["n"])]
    return nodes, inits, outputs, "MLP student: raw states in, action probabilities and index out;"


def _box_head(student: Any, space: Any) -> tuple[list[Any], list[Any], list[Any], str]:
    """Double layers on the cast state, then the tanh squash to the bounds and the clip."""
    from onnx import TensorProto, helper, numpy_helper

    low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
    layers, inits = _layers(student, "state64", np.float64, "z")
    nodes = [helper.make_node("Cast", ["state"], ["state64"], to=TensorProto.DOUBLE, name="to_double"), *layers]
    half = 0.5 * (high - low)
    inits += [
        numpy_helper.from_array(half, name="half_range"),
        numpy_helper.from_array(low + half, name="mid"),
        numpy_helper.from_array(low, name="low"),
        numpy_helper.from_array(high, name="high"),
    ]
    nodes += [
        helper.make_node("Tanh", ["z"], ["u"], name="squash"),
        helper.make_node("Mul", ["u", "half_range"], ["scaled"], name="scale"),
        helper.make_node("Add", ["scaled", "mid"], ["shifted"], name="shift"),
        helper.make_node("Max", ["shifted", "low"], ["above"], name="clip_low"),
        helper.make_node("Min", ["above", "high"], ["action"], name="clip_high"),
    ]
    return nodes, inits, [_tensor("action", "DOUBLE", ["n", space.n])], f"{student.family} student: raw states in, bounded actions out;"


_HEADS: dict[str, Callable[[Any, Any], tuple[list[Any], list[Any], list[Any], str]]] = {DiscreteActions.kind: _probabilities_head, BoxActions.kind: _box_head}


def _tensor(name: str, dtype: str, shape: list[Any]) -> Any:
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, getattr(TensorProto, dtype), shape)


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the optional onnx package: pip install agent-distill[onnx]") from None
    return onnx
