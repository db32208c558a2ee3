"""Recording a search in the ledger: dataset → search → model → export, signed and verifiable."""

from __future__ import annotations

import json

import pytest

from auto_search.errors import SearchError
from auto_search.record import record
from auto_search.search import AutoDistill
from provenance.hashing import hash_file
from provenance.keys import generate_key
from provenance.ledger import Ledger


@pytest.fixture(scope="module")
def result(small_dataset, fast):
    return AutoDistill(families=("tree",), budget_s=60, n_jobs=1, **fast).fit(small_dataset)


def test_record_appends_the_lineage_and_writes_the_artifacts(result, tmp_path):
    from provenance.verify import verify_ledger

    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, key, out_dir=tmp_path / "out")
    kinds = [e.kind for e in entries]
    assert kinds == ["dataset", "search", "model", "export"]
    by_kind = {e.kind: e for e in entries}
    assert by_kind["dataset"].subject == result.dataset["content_hash"]
    assert by_kind["search"].parents == (by_kind["dataset"].subject,)
    assert by_kind["search"].attrs["config_hash"] == result.config.config_hash and "numpy" in by_kind["search"].attrs["versions"]
    assert by_kind["model"].subject == result.student.content_hash and by_kind["search"].subject in by_kind["model"].parents
    assert by_kind["export"].parents == (result.student.content_hash,)
    assert by_kind["model"].attrs["artifact_hash"] == hash_file(tmp_path / "out" / "model.json")
    assert by_kind["export"].subject == hash_file(tmp_path / "out" / "student.py")
    assert json.loads((tmp_path / "out" / "model.json").read_text())["family"] == result.chosen.family
    assert [e["entry_hash"] for e in result.ledger_entries] == [e.entry_hash for e in entries]
    assert verify_ledger(tmp_path / "ledger.db", trusted_keys=[key]).ok


def test_a_teacher_adds_its_entry_as_a_parent_of_the_search(result, tmp_path):
    import torch

    teacher = torch.nn.Linear(4, 3)
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, key, teacher=teacher, out_dir=tmp_path / "out")
    assert [e.kind for e in entries] == ["dataset", "teacher", "search", "model", "export"]
    assert entries[1].subject in entries[2].parents


def test_a_search_without_a_choice_cannot_be_recorded(result, tmp_path):
    from dataclasses import replace

    empty = replace(result, chosen=None, student=None, shipped=None, choice=None)
    with pytest.raises(SearchError, match="no student"):
        record(empty, None, None, out_dir=tmp_path)
