"""hybrid: capture an expensive agent's decisions and distil them into cheap students.

Data flows teacher → trajectory store → ``DistillDataset`` → students (``hybrid.students``) →
exports (``hybrid.exports``). Names are loaded on first use so that ``import hybrid.errors``
(or the provenance verifier) does not pay for torch, gymnasium and SQLite helpers.
"""

from __future__ import annotations

import importlib
from typing import Any

from hybrid.errors import DataError, ExportError, HybridError, NotFittedError, ParameterError, TeacherError

_LAZY = {
    "Teacher": "hybrid.teachers",
    "as_teacher": "hybrid.teachers",
    "DistillDataset": "hybrid.dataset",
    "TrajectoryStore": "hybrid.store",
    "collect": "hybrid.rollouts",
    "evaluate": "hybrid.rollouts",
    "closed_loop": "hybrid.rollouts",
    "dagger": "hybrid.dagger",
    "DaggerResult": "hybrid.dagger",
    "fidelity": "hybrid.metrics",
    "kl": "hybrid.metrics",
    "load_teacher": "hybrid.zoo",
    "available_teachers": "hybrid.zoo",
    "teacher_world": "hybrid.zoo",
    "PolicyTeacher": "hybrid.zoo",
    "compile_student": "hybrid.exports.runtime",
    "ContinuousPolicyTeacher": "hybrid.zoo",
    "ContinuousTeacher": "hybrid.teachers_continuous",
    "dagger_continuous": "hybrid.dagger_continuous",
    "LLMTeacher": "hybrid.teachers_llm",
    "RecordDataset": "hybrid.records",
    "RecordFeaturizer": "hybrid.featurize",
    "TeamEnv": "hybrid.team_env",
    "TeamTeacher": "hybrid.team_teachers",
    "as_team_teacher": "hybrid.team_teachers",
    "team_collect": "hybrid.team_rollouts",
    "team_closed_loop": "hybrid.team_rollouts",
    "team_evaluate": "hybrid.team_rollouts",
    "TeamClosedLoop": "hybrid.team_rollouts",
    "team_dagger_iterates": "hybrid.team_dagger",
    "load_team_teacher": "hybrid.team_zoo",
    "available_team_teachers": "hybrid.team_zoo",
    "spread_planner": "hybrid.team_zoo",
    "MixtureTeacher": "hybrid.teachers_mixture",
    "mixture_teacher": "hybrid.teachers_mixture",
    "DataPool": "hybrid.data_mix",
    "teacher_rollouts": "hybrid.data_mix",
    "noisy_rollouts": "hybrid.data_mix",
    "student_states": "hybrid.data_mix",
    "logged_decisions": "hybrid.data_mix",
    "row_tags": "hybrid.data_mix",
    "share_grid": "hybrid.data_mix",
    "parse_shares": "hybrid.data_mix",
    "EnvSpec": "hybrid.finetune",
    "Finetuned": "hybrid.finetune",
    "finetune_mlp": "hybrid.finetune",
    "record_finetune": "hybrid.finetune",
    "improve_leaves": "hybrid.finetune_leaves",
    "paired_gain": "hybrid.paired",
}

__all__ = ["DataError", "ExportError", "HybridError", "NotFittedError", "ParameterError", "TeacherError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hybrid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
