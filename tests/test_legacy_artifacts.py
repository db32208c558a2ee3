"""Artifacts and a ledger written before the one-pipeline layout still load, decide and reproduce.

``tests/fixtures/legacy`` was written by main as it stood before the modules were merged: one
artifact per student family (both action kinds) with the predictions it gave on fixed probe
states, a text-router cascade, and a signed ledger recording a cascade, a CartPole search with a
DAgger step and a Pendulum search, with the data files beside it. A model's identity is the hash
of its canonical form, so every hash here must come back unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hybrid.students import Student

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
INDEX = json.loads((LEGACY / "index.json").read_text())


@pytest.mark.parametrize("family", sorted(INDEX))
def test_a_legacy_artifact_loads_with_its_hash_and_decides_the_same(family):
    student = Student.load(LEGACY / f"{family}.json")
    expected = INDEX[family]
    assert student.content_hash == expected["hash"]
    probe = np.load(LEGACY / "probe.npy")
    np.testing.assert_array_equal(np.asarray(student.predict(probe)), np.asarray(expected["predict"], dtype=np.asarray(student.predict(probe)).dtype))
    if "proba" in expected:
        np.testing.assert_allclose(student.predict_proba(probe), np.asarray(expected["proba"]), rtol=0, atol=1e-6)


def test_a_legacy_text_cascade_decides_the_same_requests():
    expected = json.loads((LEGACY / "router_decisions.json").read_text())
    student = Student.load(LEGACY / "ledger" / "router_out" / "model" / "model.json")
    assert student.content_hash == expected["hash"]
    assert [int(v) for v in student.predict(expected["states"])] == expected["predict"]
    assert [student.decide(s) for s in expected["states"]] == expected["decide"]


@pytest.fixture
def legacy_ledger(tmp_path):
    """A copy of the legacy ledger folder: verification and reproduce only read it."""
    folder = tmp_path / "legacy"
    shutil.copytree(LEGACY / "ledger", folder)
    return folder


def test_a_legacy_ledger_verifies(legacy_ledger):
    from provenance import verify_ledger

    result = verify_ledger(legacy_ledger / "ledger.db", [legacy_ledger / "legacy.key.pub"])
    assert result.ok, result.findings


@pytest.mark.parametrize(
    "model",
    [
        "sha256:1470d1b8c796bf299b8afb750cdb01e8c7db858cffe6d517f3b347774c6e4fd3",  # text cascade (linear, featurized)
        "sha256:d8eee516f203c19e9c3c00bf91185ce153b145ddc865e6ea2c3caf1d00e7d33b",  # CartPole tree after a DAgger round
        "sha256:738bfe9cd42744d0bd8ac907f5250ac5ccb2fd925a91b977c435fb12f1a4fbcf",  # Pendulum regression tree after a DAgger round
    ],
)
def test_reproduce_still_matches_a_model_recorded_before_the_layout_changed(legacy_ledger, model, capsys):
    from auto_search.cli import main

    code = main(["reproduce", str(legacy_ledger / "ledger.db"), model, "--key", str(legacy_ledger / "legacy.key.pub")])
    out = capsys.readouterr().out
    assert code == 0, out
    # a DAgger round labels states with the teacher's forward pass, whose last bits depend on the CPU
    assert f"reproduced {model} bit for bit" in out or f"reproduced {model} up to floating-point rounding" in out


def test_rounding_is_told_apart_from_a_different_model():
    from auto_search.reproduce import _rounding_only

    tree = {"family": "tree", "split": [3, 0.25], "value": [[0.8867062515169069, 0.11329374706119207]]}
    assert _rounding_only(tree, tree) == 0.0
    rounded = {**tree, "value": [[0.88670625021793, 0.11329374782918378]]}
    assert 0.0 < _rounding_only(tree, rounded) < 1e-8
    assert _rounding_only(tree, {**tree, "value": [[0.89, 0.11]]}) is None  # a real change of a leaf
    assert _rounding_only(tree, {**tree, "split": [2, 0.25]}) is None  # another feature
    assert _rounding_only(tree, {**tree, "family": "rules"}) is None
    assert _rounding_only(tree, {**tree, "extra": 1}) is None
