"""The compiled batch runtime: a student's C export, built once and called on numpy arrays.

``compile_student(student).predict(X)`` decides every row of ``X`` in one call into the header's
``decide_batch`` (``hybrid.exports.c_batch``), compiled with the system C compiler and cached by
the student's content hash (``hybrid.exports._cc``). It returns what ``student.predict`` returns,
state for state; a cascade's header leaves states to its teacher (-1), and those rows go to the
student's own ``predict``, which asks the teacher. Where no compiler exists the runtime says so
in one line and decides with ``student.predict`` instead, so code written against it runs
everywhere, only slower. ``compile_fixed_point`` builds a fixed-point header
(``hybrid.exports.fixed_point``) the same way and feeds it states quantised as a device would.
"""

from __future__ import annotations

import ctypes
import warnings
from typing import Any

import numpy as np

from hybrid.errors import DataError, ExportError
from hybrid.exports._cc import build_library, find_compiler
from hybrid.exports.c import export_c
from hybrid.exports.c_batch import required_output_kind
from hybrid.exports.fixed_point import FixedPointHeader
from hybrid.students._base import Student, check_states

FIXED_POINT_ENTRY = '#include "student.h"\nvoid agent_distill_batch_q(const int16_t *states, size_t n, int32_t *out) { decide_q_batch(states, n, out); }\n'
ENTRY = '#include "student.h"\nlong agent_distill_batch(const float *states, size_t n, {c_type} *out) {{ return decide_batch(states, n, out); }}\n'


class CompiledStudent:
    """A fitted student with its C batch entry loaded (``compiled``), or its numpy path where no compiler exists.

    ``predict`` takes states ``[n, d]`` (checked like ``student.predict``: finite, right width)
    and returns one action per state as int32; pass ``out`` (int32, ``[n]``) to reuse an array.
    """

    def __init__(self, student: Student, library: ctypes.CDLL | None) -> None:
        self.student = student
        self.n_features_in_ = int(student.n_features_in_)
        self.n_actions_ = int(student.n_actions_)
        self._dtype = np.dtype(required_output_kind(student).numpy_dtype)
        self._batch = None
        if library is not None:
            self._batch = library.agent_distill_batch
            self._batch.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
            self._batch.restype = ctypes.c_long

    @property
    def compiled(self) -> bool:
        """True when decisions run in compiled C, False on the numpy fallback."""
        return self._batch is not None

    def predict(self, X: Any, out: np.ndarray | None = None) -> np.ndarray:
        """The action of every state, decided in one C call (equal to ``student.predict``)."""
        d = self.n_features_in_
        fast = isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == d
        X = np.ascontiguousarray(X if fast and self.compiled else check_states(X, n_features=d))  # C checks finiteness
        n = X.shape[0]
        if out is None:
            out = np.empty(n, dtype=self._dtype)
        elif out.shape != (n,) or out.dtype != self._dtype or not out.flags.c_contiguous:
            raise DataError(f"out must be a contiguous {self._dtype} array of shape ({n},); got {out.dtype} {out.shape}.")
        if self._batch is None:
            out[:] = self.student.predict(X)
            return out
        if self._batch(X.ctypes.data, n, out.ctypes.data) >= 0:
            check_states(X, n_features=d)  # raises DataError naming the first NaN or infinity
        left = out < 0  # a cascade's header leaves these states to the teacher
        if left.any():
            out[left] = self.student.predict(X[left])
        return out


def compile_student(student: Student, *, compiler: str | None = None) -> CompiledStudent:
    """Compile the student's C export (or reuse the cached build) and load its batch entry.

    Raises ExportError for a family without a C export or an action kind without a batch entry.
    ``compiler`` defaults to ``$CC`` or ``cc``/``gcc``/``clang`` on the PATH; with none, a
    RuntimeWarning says so once and the result decides with ``student.predict``.
    """
    header = export_c(student)  # checks that the family has a C export and is fitted
    c_type = required_output_kind(student).c_type  # refuses an action kind without a batch entry
    compiler = compiler or find_compiler()
    if compiler is None:
        warnings.warn(
            "agent-distill: no C compiler found (install cc or set CC); deciding with the student's numpy predict instead of compiled C.",
            RuntimeWarning,
            stacklevel=2,
        )
        return CompiledStudent(student, None)
    library = build_library(header, ENTRY.format(c_type=c_type), content_hash=student.content_hash, compiler=compiler)
    return CompiledStudent(student, library)


class CompiledFixedPoint:
    """A fixed-point header compiled for this machine: ``predict`` quantises float states as the
    device would (``FixedPointHeader.quantise``) and decides them all in one call."""

    def __init__(self, header: FixedPointHeader, library: ctypes.CDLL) -> None:
        self.header = header
        self.n_features_in_ = len(header.frac_bits)
        self._batch = library.agent_distill_batch_q
        self._batch.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self._batch.restype = None

    def predict(self, X: Any) -> np.ndarray:
        """The action the integer-only header takes for every state, as int32."""
        q = np.ascontiguousarray(self.header.quantise(X))
        out = np.empty(q.shape[0], dtype=np.int32)
        self._batch(q.ctypes.data, q.shape[0], out.ctypes.data)
        return out


def compile_fixed_point(header: FixedPointHeader, *, compiler: str | None = None) -> CompiledFixedPoint:
    """Compile a fixed-point header (cached like ``compile_student``) to run it on numpy states.

    Raises ExportError without a C compiler: there is no numpy copy of the integer arithmetic.
    """
    compiler = compiler or find_compiler()
    if compiler is None:
        raise ExportError("running a fixed-point header needs a C compiler: install cc or set CC.")
    return CompiledFixedPoint(header, build_library(header.source, FIXED_POINT_ENTRY, content_hash=header.content_hash, compiler=compiler))
