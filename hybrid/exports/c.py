"""Export a student as a C99 header: ``decide(const double *state)`` and ``decide_batch(states, n, out)``.

The header needs no library (rule lists and trees need not even ``<math.h>``): copy it next to a
controller, ``#include`` it and call ``decide(state)`` with the state's features in the order the
student was fitted on; it returns the action index. ``decide_batch`` decides ``n`` float states
in one call without allocating (``hybrid.exports.c_batch``; ``hybrid.exports.runtime`` compiles
it and calls it on numpy arrays). Trees and rule lists compare doubles with
bounds that reproduce their float32 training splits exactly (see ``hybrid.students.tree``).
Each family writes its own code (``c_source``); this module dispatches.
"""

from __future__ import annotations

from pathlib import Path

from hybrid.errors import ExportError
from hybrid.exports.c_batch import with_batch_entry
from hybrid.students._base import Student, registered_families


def export_c(student: Student, path: str | Path | None = None) -> str:
    """The header's source when ``path`` is None; else write it there and return the path.

    Raises ExportError naming the families that support C export if this one does not.
    """
    if not callable(getattr(student, "c_source", None)):
        supported = [name for name, cls in registered_families().items() if hasattr(cls, "c_source")]
        raise ExportError(f"{type(student).__name__} has no C export; families that have one: {supported}.")
    student._check_fitted()
    source = with_batch_entry(student.c_source(), student)
    if path is None:
        return source
    Path(path).write_text(source, encoding="utf-8")
    return str(path)
