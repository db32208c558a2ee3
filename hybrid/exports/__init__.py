"""Exports of fitted students: dependency-free Python modules and C headers for every family that
has them, ONNX for MLPs (needs the optional ``onnx`` extra, imported only when used), fixed-point
C headers for microcontrollers, an SB3-style policy wrapper (``as_policy``), and the compiled batch runtime that calls C headers on numpy arrays."""

from hybrid.exports.c import export_c
from hybrid.exports.fixed_point import FixedPointHeader, export_fixed_point, fixed_point_header
from hybrid.exports.onnx import export_onnx
from hybrid.exports.python import export_python, python_source
from hybrid.exports.runtime import CompiledFixedPoint, CompiledStudent, compile_fixed_point, compile_student
from hybrid.exports.sb3_policy import StudentPolicy, as_policy

__all__ = [
    "CompiledFixedPoint",
    "CompiledStudent",
    "FixedPointHeader",
    "StudentPolicy",
    "as_policy",
    "compile_fixed_point",
    "compile_student",
    "export_c",
    "export_fixed_point",
    "export_onnx",
    "export_python",
    "fixed_point_header",
    "python_source",
]
