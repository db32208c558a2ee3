"""Smoke test of benchmarks/runtime.py on its quick settings, run as a user runs it (subprocess):
every section prints, the compiled batch equals predict on every state, and the JSON is coherent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "runtime.py"


@pytest.mark.slow
def test_quick_run_prints_every_section_and_writes_coherent_figures(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "AGENT_DISTILL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out)], capture_output=True, text=True, timeout=900, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("1. batch of 100,000", "2. examples/many_agents.py", "3. fixed point, CartPole-v1", "3. fixed point, LunarLander-v3"):
        assert heading in proc.stdout
    figures = json.loads(out.read_text())
    assert all(row["compiled"] and row["compiled_equals_predict"] for row in figures["batch"]["rows"])
    assert len(figures["many_agents"]["rows"]) == 3
    for env_result in figures["fixed_point"]:
        assert env_result["held_out_states"] == 10_000
        for row in env_result["rows"]:
            assert 0.9 < row["agreement"] <= 1.0 and row["flash_table_bytes"] > 0 and row["os_object_bytes_fixed"] > 0
