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
    "Teacher": "hybrid.teachers.base",
    "as_teacher": "hybrid.teachers.base",
    "DistillDataset": "hybrid.data.dataset",
    "TrajectoryStore": "hybrid.data.store",
    "collect": "hybrid.loop.rollouts",
    "evaluate": "hybrid.loop.rollouts",
    "closed_loop": "hybrid.loop.rollouts",
    "dagger": "hybrid.loop.dagger",
    "DaggerResult": "hybrid.loop.dagger",
    "fidelity": "hybrid.metrics",
    "kl": "hybrid.metrics",
    "load_teacher": "hybrid.teachers.zoo",
    "available_teachers": "hybrid.teachers.zoo",
    "teacher_world": "hybrid.teachers.zoo",
    "PolicyTeacher": "hybrid.teachers.zoo",
    "compile_student": "hybrid.exports.runtime",
    "ContinuousPolicyTeacher": "hybrid.teachers.zoo",
    "ContinuousTeacher": "hybrid.teachers._box",
    "dagger_continuous": "hybrid.loop.dagger",
    "LLMTeacher": "hybrid.teachers.llm",
    "RecordDataset": "hybrid.data.records",
    "RecordFeaturizer": "hybrid.data.featurize",
    "TeamEnv": "hybrid.envs.adapter",
    "TeamTeacher": "hybrid.teachers.team",
    "as_team_teacher": "hybrid.teachers.team",
    "team_collect": "hybrid.loop.rollouts",
    "team_closed_loop": "hybrid.loop.rollouts",
    "team_evaluate": "hybrid.loop.rollouts",
    "TeamClosedLoop": "hybrid.loop.rollouts",
    "team_dagger_iterates": "hybrid.loop.dagger",
    "load_team_teacher": "hybrid.teachers._zoo_teams",
    "available_team_teachers": "hybrid.teachers._zoo_teams",
    "spread_planner": "hybrid.teachers._zoo_teams",
    "MixtureTeacher": "hybrid.teachers.mixture",
    "mixture_teacher": "hybrid.teachers.mixture",
    "DataPool": "hybrid.loop.data_mix",
    "teacher_rollouts": "hybrid.loop.data_mix",
    "noisy_rollouts": "hybrid.loop.data_mix",
    "student_states": "hybrid.loop.data_mix",
    "logged_decisions": "hybrid.loop.data_mix",
    "row_tags": "hybrid.loop.data_mix",
    "share_grid": "hybrid.loop.data_mix",
    "parse_shares": "hybrid.loop.data_mix",
    "EnvSpec": "hybrid.loop.finetune",
    "Finetuned": "hybrid.loop.finetune",
    "finetune_mlp": "hybrid.loop.finetune",
    "record_finetune": "hybrid.loop.finetune",
    "improve_leaves": "hybrid.loop.finetune_leaves",
    "paired_gain": "hybrid.loop.paired",
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
