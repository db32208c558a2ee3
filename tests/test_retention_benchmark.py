"""Smoke test of benchmarks/retention.py: the whole pipeline on CartPole with a tiny budget, as
a user runs it (subprocess), checking the table's rows and that the JSON figures are coherent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "retention.py"
ROWS = [
    "teacher",
    "AutoDistill",
    "best rules (≤32)",
    "best hybrid",
    "BC tree d4",
    "BC tree d8",
    "DAgger tree d4",
    "DAgger tree d8",
    "VIPER tree d8",
    "BC MLP 32",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("retention") / "out.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--envs", "CartPole-v1", "--episodes", "2", "--quick", "--n-jobs", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def test_prints_one_table_with_every_row(run: tuple[subprocess.CompletedProcess, dict]) -> None:
    proc, _ = run
    assert "CartPole-v1: 2 test episodes" in proc.stdout
    for name in ("AutoDistill", "VIPER tree d8", "BC MLP 32"):
        assert name in proc.stdout


def test_json_rows_are_coherent(run: tuple[subprocess.CompletedProcess, dict]) -> None:
    _, data = run
    [env] = data["envs"]
    assert env["env"] == "CartPole-v1" and env["episodes"] == 2
    assert [r["name"] for r in env["rows"]] == ROWS
    gap = env["teacher_return"] - env["random_return"]
    teacher = env["rows"][0]
    for r in env["rows"]:
        assert r["retention"] == pytest.approx((r["return_mean"] - env["random_return"]) / gap)
        assert 0.0 <= r["fidelity_held_out"] <= 1.0 and 0.0 <= r["fidelity_visited"] <= 1.0
        assert r["ops_share"] == pytest.approx(r["ops_per_decision"] / teacher["ops_per_decision"])
        assert r["speedup_vs_teacher"] == pytest.approx(r["teacher_latency_us"] / r["latency_us"], rel=1e-6)
    by_name = {r["name"]: r for r in env["rows"]}
    assert by_name["best rules (≤32)"]["rules"] <= 32
    assert 0.0 <= by_name["best hybrid"]["coverage"] <= 1.0
    assert by_name["BC tree d4"]["latency_how"] == "python export"
    assert env["autodistill"]["choice"]
