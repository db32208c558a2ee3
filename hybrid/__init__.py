"""hybrid: capture an expensive agent's decisions and distil them into cheap students."""

from hybrid.errors import DataError, ExportError, HybridError, NotFittedError, TeacherError

__all__ = ["DataError", "ExportError", "HybridError", "NotFittedError", "TeacherError"]
