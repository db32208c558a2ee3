"""Export a student as a standard-library-only Python module: ``decide(state)`` returns the action.

The generated module imports nothing outside the standard library, so it runs wherever Python
does (no numpy, scikit-learn or torch). It also defines ``ACTION_NAMES`` (the names of the
student's action space: ``ACTION_NAMES[i]`` is action, or action dimension, ``i``) and
``CONTENT_HASH``, the student's identity, so a deployed file can be traced
back to its artifact and ledger entry. Each family writes its own code (``python_source``);
a featurized student's module is written by :mod:`hybrid.exports.python_records` (it embeds the
featurizing runtime around its inner student's code). This module dispatches and adds the
shared header constants.
"""

from __future__ import annotations

from pathlib import Path

from hybrid.errors import ExportError
from hybrid.exports.python_records import featurized_python_source
from hybrid.spaces import action_space_of
from hybrid.students._base import Student, registered_families
from hybrid.students.featurized import FeaturizedStudent


def export_python(student: Student, path: str | Path | None = None) -> str:
    """The module's source when ``path`` is None; else write it there and return the path.

    Raises ExportError naming the families that support Python export if this one does not.
    """
    source = python_source(student)
    if path is None:
        return source
    Path(path).write_text(source, encoding="utf-8")
    return str(path)


def python_source(student: Student) -> str:
    """Source of the module for a fitted student: family code, then ACTION_NAMES and CONTENT_HASH."""
    if isinstance(student, FeaturizedStudent):
        student._check_fitted()
        body = featurized_python_source(student)
    elif callable(getattr(student, "python_source", None)):
        student._check_fitted()
        body = student.python_source()
    else:
        supported = [name for name, cls in registered_families().items() if hasattr(cls, "python_source")]
        raise ExportError(f"{type(student).__name__} has no Python export; families that have one: {supported}.")
    names = action_space_of(student).names
    return body.rstrip("\n") + f"\n\n\nACTION_NAMES = {names!r}\nCONTENT_HASH = {student.content_hash!r}\n"
