"""The model a server decides with: found in a search's output folder, loaded, swapped on reload.

``MODEL_DIR`` is what ``agent-distill search … --out DIR`` wrote (``DIR/model/model.json``), the
model folder itself, or the ``model.json`` file. The student must read records (a featurized
student, as the search ships for text states): a request's state is the record
:func:`hybrid.data.transcripts.conversation_state` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid.errors import DataError
from hybrid.students._base import Student


def model_file(model_dir: str | Path) -> Path:
    """The ``model.json`` under ``model_dir`` (or ``model_dir`` itself when it is the file)."""
    path = Path(model_dir)
    for candidate in (path / "model" / "model.json", path / "model.json", path):
        if candidate.is_file():
            return candidate
    raise DataError(f"no model under {path}: expected {path / 'model' / 'model.json'} as `agent-distill search … --out {path}` writes it")


@dataclass(frozen=True)
class ServedModel:
    """A loaded student, its identity and where it came from."""

    student: Any
    model_hash: str
    path: Path

    @classmethod
    def load(cls, model_dir: str | Path) -> ServedModel:
        path = model_file(model_dir)
        student = Student.load(path)
        if getattr(student, "featurizer_", None) is None:
            raise DataError(
                f"{path} holds a student on numeric states; serving reads chat requests as records "
                '({"text": …}): distil from transcripts or a log with text states'
            )
        return cls(student=student, model_hash=student.content_hash, path=path)

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(self.student.action_names_)

    @property
    def fields(self) -> dict[str, str]:
        """The record fields the student reads and their kinds."""
        return dict(self.student.featurizer_.kinds_)

    def decide(self, state: dict[str, Any]) -> tuple[str | None, float]:
        """(the action, or None when the student defers; its confidence)."""
        actions, confidence = self.student.choose([state])
        threshold = self.student.defer_below
        c = float(confidence[0])
        return (None if threshold is not None and c < float(threshold) else self.student.action_names_[int(actions[0])]), c
