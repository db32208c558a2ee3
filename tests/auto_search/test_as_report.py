"""Reports: three files from one data object, valid against the JSON Schema, self-contained
HTML, atomic replacement."""

from __future__ import annotations

import json

import jsonschema
import pytest

from auto_search import report as report_module
from auto_search.report import REPORT_FILES, SCHEMA_PATH
from auto_search.search import AutoDistill


@pytest.fixture(scope="module")
def result(small_dataset, fast):
    return AutoDistill(families=("tree", "mlp"), budget_s=60, n_jobs=1, **fast).fit(small_dataset)


def test_report_files_exist_and_the_json_validates_against_its_schema(result, tmp_path):
    out = result.write_report(tmp_path / "rep")
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads((out / "report.json").read_text())
    jsonschema.validate(data, schema)
    assert data == json.loads(json.dumps(result.to_data()))
    assert data["shipped"]["content_hash"] == result.student.content_hash and data["config_hash"] == result.config.config_hash


def test_schema_rejects_a_report_with_a_wrong_version_or_a_bad_hash(result):
    schema = json.loads(SCHEMA_PATH.read_text())
    for bad in ({**result.to_data(), "schema_version": 1}, {**result.to_data(), "config_hash": "md5:abc"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(json.dumps(bad)), schema)


def test_html_is_self_contained_with_plots_rules_confusion_and_hashes(result, tmp_path):
    html = (result.write_report(tmp_path / "rep") / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "<script src" not in html and "src='http" not in html and 'src="http' not in html  # one inline script sorts tables
    assert result.student.content_hash in html and result.dataset["content_hash"] in html
    assert "Confusion of the shipped student on held-out states" in html and "Chosen and shipped" in html
    md = (tmp_path / "rep" / "report.md").read_text()
    assert result.choice in md and "| rung | level |" in md


def test_the_first_screen_answers_four_questions_before_plots_and_details(result, tmp_path):
    """Issue 23 #9: what ships, how good, how cheap, can I trust it — then plots, then details collapsed."""
    html = (result.write_report(tmp_path / "rep") / "report.html").read_text()
    cards = [html.index(f"<h2>{q}</h2>") for q in ("What ships", "How good", "How cheap", "Can I trust it")]
    assert cards == sorted(cards) and cards[-1] < html.index("data:image/png;base64,") < html.index("<details")
    assert "rung(s) cut" not in html and "1 + operations" not in html and "an operation is one comparison" in html
    assert f"agrees with the teacher on {100 * result.shipped.fidelity:.1f}%" in html
    assert "<table class='sortable'>" in html and html.count("<details") >= 4 and "<details open><summary>Why this student" in html
    assert "the teacher as the gold line" in html  # no teacher cost given: drawn as a line, and the caption says so
    assert "shipped student (the chosen candidate)" in html  # one column when the chosen candidate ships as fitted
    missed = {**result.to_data(), "cascade": {"met": False, "agreement_at_least": 0.99, "held_out": {"agreement_decided": 0.95, "coverage": 0.5}}}
    from auto_search.report_summary import first_screen

    assert "<b class='missed'>MISSED</b> agreement ≥ 99%" in first_screen(missed)


def test_rewriting_keeps_other_files_and_a_failure_leaves_the_old_report(result, tmp_path, monkeypatch):
    out = result.write_report(tmp_path / "rep")
    (out / "model.json").write_text("{}")
    before = (out / "report.json").read_text()

    def broken(data):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "render_html", broken)
    with pytest.raises(RuntimeError):
        result.write_report(out)
    assert (out / "report.json").read_text() == before and (out / "model.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left behind
    monkeypatch.undo()
    result.write_report(out)
    assert (out / "model.json").read_text() == "{}"
