"""The ``hybrid`` exception family: one base class, each message says what, where and the fix."""

from __future__ import annotations


class HybridError(Exception):
    """Base of every error raised by ``hybrid``; catch this to catch them all."""


class DataError(HybridError, ValueError):
    """Input data is malformed: wrong shape, NaN, empty, inconsistent names, bad file line."""


class ParameterError(HybridError, ValueError):
    """A student's hyperparameter is out of range or unknown; raised by ``fit``, naming the valid values."""


class TeacherError(HybridError, ValueError):
    """A teacher returned output that is not a valid probability table."""


class NotFittedError(HybridError, AttributeError):
    """A student was used before ``fit``."""


class ExportError(HybridError):
    """A student could not be exported to the requested target."""
