"""Dependency-free exports of fitted students: Python modules, C headers and (for MLPs) ONNX."""

from hybrid.exports.c import export_c
from hybrid.exports.python import export_python, python_source

__all__ = ["export_c", "export_python", "python_source"]
