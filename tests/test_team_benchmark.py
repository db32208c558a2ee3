"""benchmarks/team.py runs end to end on a tiny budget and writes its figures (slow: two searches)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_team_benchmark_writes_both_teachers_tables(tmp_path):
    pytest.importorskip("mpe2")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = ["--budget", "30", "--episodes", "3", "--train-episodes", "10", "--quick", "--json", str(tmp_path / "team.json")]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "team.py"), *args], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads((tmp_path / "team.json").read_text())
    assert [s["kind"] for s in figures["sections"]] == ["ppo", "centralised"]
    assert [r["name"] for r in figures["sections"][0]["rows"]][1:] == ["AutoDistill, one shared student", "BC tree depth 8", "BC MLP 32"]
    assert (tmp_path / "team.txt").read_text().count("| policy |") == 2
