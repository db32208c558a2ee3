"""``agent-distill search`` on logged continuous decisions — a DistillDataset ``.npz`` and a JSONL
log with ``"action": [0.3, -0.7]`` — writes the report and the shipped model with ``--out``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hybrid import DistillDataset
from hybrid.students import Student
from provenance.hashing import hash_json


def decisions(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """States and a saturating two-dimensional controller's actions in [-1, 1]."""
    X = np.random.default_rng(0).uniform(-1, 1, size=(n, 3)).astype(np.float32)
    A = np.clip(np.column_stack([2.0 * X[:, 0] - X[:, 1], np.where(X[:, 2] > 0, 0.8, -0.6)]), -1.0, 1.0)
    return X, A


def write_npz(path):
    X, A = decisions()
    DistillDataset(X, A, ["throttle", "steer"], action_kind="continuous", action_low=[-1, -1], action_high=[1, 1]).save(path)


def write_jsonl(path):
    X, A = decisions()
    rows = [{"state": x.tolist(), "action": a.tolist(), "episode": i // 100} for i, (x, a) in enumerate(zip(X, A))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("suffix, write", [(".npz", write_npz), (".jsonl", write_jsonl)])
def test_search_on_continuous_decisions_writes_the_report_and_the_model(suffix, write, tmp_path):
    data, out = tmp_path / f"decisions{suffix}", tmp_path / "out"
    write(data)
    cmd = [sys.executable, "-m", "auto_search.cli", "search", str(data), "--out", str(out)]
    cmd += ["--budget", "10", "--families", "regression_tree", "linear_rules", "--n-jobs", "1", "--verbose", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["action_kind"] == "continuous" and report["dataset"]["fidelity_tolerance"] == 0.05
    assert report["dataset"]["n_actions"] == 2 and report["shipped"]["confusion"] is None
    model = json.loads((out / "model" / "model.json").read_text())
    assert hash_json(model) == report["shipped"]["content_hash"]
    assert (out / "model" / "student.py").exists() and (out / "model" / "student.h").exists()
    student = Student.from_dict(model)
    actions = student.predict(decisions(20)[0])
    assert student.action_kind == "continuous" and actions.shape == (20, 2) and (np.abs(actions) <= 1.0).all()
