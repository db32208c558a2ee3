"""hybrid: capture an expensive agent's decisions and distil them into cheap students.

Data flows by stage, one folder each: teachers (``hybrid.teachers``) → trajectory store and
``DistillDataset`` (``hybrid.data``) → students (``hybrid.students``) → exports
(``hybrid.exports``), with rollouts, the closed loop and DAgger in ``hybrid.loop`` running
through one environment adapter (``hybrid.envs``). The kind of agent is a value, an
``ActionSpace`` (``hybrid.spaces``), carried by teachers, datasets and students. Names are
loaded on first use so that ``import hybrid.errors`` (or the provenance verifier) does not pay
for torch, gymnasium and SQLite helpers. ``__all__`` is the public face; the other names of
``_LAZY`` stay importable for code written against earlier layouts.
"""

from __future__ import annotations

import importlib
from typing import Any

from hybrid.errors import DataError, ExportError, HybridError, NotFittedError, ParameterError, TeacherError

_LAZY = {
    "ActionSpace": "hybrid.spaces",
    "DiscreteActions": "hybrid.spaces",
    "BoxActions": "hybrid.spaces",
    "Teacher": "hybrid.teachers.base",
    "as_teacher": "hybrid.teachers.adapters",
    "DistillDataset": "hybrid.data.dataset",
    "TrajectoryStore": "hybrid.data.store",
    "ParquetLog": "hybrid.data.parquet",
    "load_parquet": "hybrid.data.parquet",
    "from_minari": "hybrid.data.minari",
    "to_minari": "hybrid.data.minari",
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
    "as_policy": "hybrid.exports.sb3_policy",
    "ContinuousPolicyTeacher": "hybrid.teachers.zoo",
    "ContinuousTeacher": "hybrid.teachers.base",
    "dagger_continuous": "hybrid.loop.dagger",
    "LLMTeacher": "hybrid.teachers.llm",
    "RecordDataset": "hybrid.data.records",
    "RecordFeaturizer": "hybrid.data.featurize",
    "EntityFeaturizer": "hybrid.data.entities",
    "TeamEnv": "hybrid.envs.adapter",
    "TeamTeacher": "hybrid.teachers.team",
    "as_team_teacher": "hybrid.teachers.team",
    "team_collect": "hybrid.loop.rollouts",
    "team_closed_loop": "hybrid.loop.rollouts",
    "team_evaluate": "hybrid.loop.rollouts",
    "TeamClosedLoop": "hybrid.loop.rollouts",
    "team_dagger_iterates": "hybrid.loop.dagger",
    "load_team_teacher": "hybrid.teachers.zoo",
    "available_team_teachers": "hybrid.teachers.zoo",
    "spread_planner": "hybrid.teachers.zoo",
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

__all__ = [  # noqa: RUF022  (grouped by stage of the data flow, for readers)
    # errors
    "DataError",
    "ExportError",
    "HybridError",
    "NotFittedError",
    "ParameterError",
    "TeacherError",
    # kinds of agent
    "ActionSpace",
    "BoxActions",
    "DiscreteActions",
    # teachers
    "Teacher",
    "as_teacher",
    "load_teacher",
    "available_teachers",
    "mixture_teacher",
    "LLMTeacher",
    "TeamTeacher",
    # data
    "DistillDataset",
    "RecordDataset",
    "RecordFeaturizer",
    "TrajectoryStore",
    "from_minari",
    "to_minari",
    # environments and the closed loop
    "TeamEnv",
    "collect",
    "closed_loop",
    "evaluate",
    "dagger",
    # metrics and the compiled runtime
    "fidelity",
    "kl",
    "compile_student",
    "as_policy",
    # data mixes
    "DataPool",
    "teacher_rollouts",
    "noisy_rollouts",
    "student_states",
    "logged_decisions",
    # fine-tuning
    "EnvSpec",
    "finetune_mlp",
    "improve_leaves",
    "paired_gain",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hybrid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_LAZY})
