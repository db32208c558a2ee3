"""``agent-distill search DATA --out DIR`` leaves the shipped model and its exports in DIR/model
even without a ledger, and they are the model the report names."""

from __future__ import annotations

import json
import subprocess
import sys

from provenance.hashing import hash_json


def test_out_gets_the_model_and_exports_without_a_ledger(small_dataset, tmp_path):
    data = tmp_path / "decisions.npz"
    small_dataset.save(data)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "auto_search.cli",
        "search",
        str(data),
        "--out",
        str(out),
        "--budget",
        "20",
        "--families",
        "tree",
        "--n-jobs",
        "1",
        "--verbose",
        "0",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    model = json.loads((out / "model" / "model.json").read_text())
    assert hash_json(model) == report["shipped"]["content_hash"]
    assert (out / "model" / "student.py").exists() and (out / "model" / "student.h").exists()
    assert "model: " in proc.stderr and report["ledger_entries"] == []
