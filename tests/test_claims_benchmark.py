"""The claims study's comparison table, from two small runs written here (no searches)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "claims.py"


def _row(label: str, setting: str, claimed: bool, tested: float, contradicted: bool = False) -> dict:
    return {
        "label": label,
        "setting": setting,
        "seed": 0,
        "search_s": 10.0,
        "claimed": claimed,
        "holds": claimed and tested >= 0.98,
        "contradicted": contradicted,
        "test_retention": tested,
        "episodes_choice": 40,
        "episodes_confirmation": 60,
    }


def test_compare_prints_claims_that_hold_side_by_side(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("claims_benchmark", SCRIPT)
    claims = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(claims)
    old = {"label": "old", "rows": [_row("old", "CartPole-v1", True, 0.93, True), _row("old", "CartPole-v1", True, 0.995)]}
    new = {"label": "new", "rows": [_row("new", "CartPole-v1", False, 0.93), _row("new", "CartPole-v1", True, 0.995)]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert claims.main(["--compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert "old: 2 claims in 2 searches, 50% of claims hold, 1 contradicted" in out
    assert "new: 1 claims in 2 searches, 100% of claims hold, 0 contradicted" in out
    assert out.count("CartPole-v1") == 2 and "96.2%" in out  # the mean test retention of what shipped
