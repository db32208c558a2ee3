"""Smoke test of benchmarks/retention_continuous.py on MountainCarContinuous with tiny settings,
as a user runs it (subprocess): every row present and the JSON figures coherent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "retention_continuous.py"
ROWS = [
    "teacher",
    "AutoDistill",
    "best rules (≤32, linear)",
    "oblique rules (≤32, linear)",
    "CART, linear leaves (≤32)",
    "BC tree d4",
    "BC tree d8",
    "DAgger tree d4",
    "DAgger tree d8",
    "BC MLP 32",
]


@pytest.mark.slow
def test_rows_and_figures_are_coherent(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--envs", "MountainCarContinuous-v0", "--episodes", "2", "--quick", "--n-jobs", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = json.loads(out.read_text(encoding="utf-8"))["envs"][0]
    assert [r["name"] for r in env["rows"]] == ROWS
    for r in env["rows"][1:]:
        assert r["retention"] == pytest.approx((r["return_mean"] - env["random_return"]) / (env["teacher_return"] - env["random_return"]))
        assert 0.0 <= r["fidelity_held_out"] <= 1.0 and r["ops_share"] == pytest.approx(r["ops_per_decision"] / env["rows"][0]["ops_per_decision"])
    for rules in env["rows"][2:4]:
        assert rules["rules"] and all(line.startswith("IF ") or line.startswith("ALWAYS") for line in rules["rules"])
