"""Exports of fitted students: dependency-free Python modules and C headers for every family that
has them, ONNX for MLPs (needs the optional ``onnx`` extra, imported only when used)."""

from hybrid.exports.c import export_c
from hybrid.exports.onnx import export_onnx
from hybrid.exports.python import export_python, python_source

__all__ = ["export_c", "export_onnx", "export_python", "python_source"]
