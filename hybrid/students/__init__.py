"""Student families: cheap agents trained on a teacher's soft labels."""

from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights

__all__ = ["Cost", "Student", "check_states", "check_targets", "check_weights"]
