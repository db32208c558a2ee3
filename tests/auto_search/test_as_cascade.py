"""Cascade metrics, the cascade:0.99 policy, and the CLI on a file of text decisions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from auto_search.policies import parse_policy
from hybrid.cascade import calibration_split, cascade_score, choose_threshold, coverage_curve
from hybrid.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def test_cascade_score_by_hand():
    teacher = [0, 1, 1, 0, 2]
    student = [0, 1, 0, 0, 1]
    confidence = [0.9, 0.8, 0.4, 0.95, 0.3]
    s = cascade_score(teacher, student, confidence, 0.5)
    assert (s.coverage, s.agreement_decided, s.agreement_overall, s.teacher_calls_saved) == (0.6, 1.0, 1.0, 3)
    everything = cascade_score(teacher, student, confidence, None)
    assert everything.coverage == 1.0 and everything.agreement_decided == 0.6
    nothing = cascade_score(teacher, student, confidence, 2.0)
    assert nothing.coverage == 0.0 and nothing.agreement_decided is None and nothing.agreement_overall == 1.0


def test_threshold_is_the_lowest_keeping_the_target():
    rng = np.random.default_rng(0)
    confidence = rng.random(2000)
    teacher = np.zeros(2000, dtype=int)
    student = np.where(rng.random(2000) < confidence**0.3, 0, 1)  # more confident → more often right
    t = choose_threshold(teacher, student, confidence, 0.95)
    decided = confidence >= t
    assert (student[decided] == 0).mean() >= 0.95
    lower = confidence < t
    assert lower.any() and (student[decided | (confidence >= np.max(confidence[lower]))] == 0).mean() < 0.95 + 0.02
    assert choose_threshold([0, 0], [1, 1], [0.9, 0.8], 0.99) is None
    with pytest.raises(DataError):
        choose_threshold([0], [0], [1.0], 1.5)


def test_curve_runs_from_everything_to_the_most_confident():
    curve = coverage_curve([0, 0, 1, 1], [0, 1, 1, 0], [0.9, 0.2, 0.7, 0.5])
    assert [p["coverage"] for p in curve] == [0.25, 0.5, 0.75, 1.0]
    assert [p["agreement"] for p in curve] == [1.0, 1.0, 2 / 3, 0.5]


def test_calibration_and_report_rows_are_disjoint():
    cal, rep = calibration_split(101, 0)
    assert len(cal) + len(rep) == 101 and not set(cal) & set(rep)


def test_policy_spec_parses():
    assert parse_policy("cascade:0.99").spec == "cascade:0.99"
    from auto_search.errors import SearchConfigError

    with pytest.raises(SearchConfigError):
        parse_policy("cascade:1.5")


def _text_decisions(path: Path, n: int, seed: int) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "students"))
    from test_featurized import requests

    records, labels, names = requests(n, seed)
    path.write_text("".join(json.dumps({"state": r, "action": names[a]}) + "\n" for r, a in zip(records, labels)))
    return path


@pytest.mark.slow
def test_cli_cascade_on_text_decisions_writes_a_deciding_or_deferring_export(tmp_path):
    data = _text_decisions(tmp_path / "decisions.jsonl", 1500, 0)  # ≥ 100 calibration states: fewer cannot show 99%
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auto_search.cli",
            "search",
            str(data),
            "--out",
            str(out),
            "--policy",
            "cascade:0.99",
            "--budget",
            "40",
            "--val-fraction",
            "0.3",
            "--families",
            "tree",
            "rules",
            "mlp",
            "--n-jobs",
            "1",
            "--verbose",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fields: text (text), channel (category), n_items (number)" in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["cascade"]["policy"] == "cascade:0.99" and report["cascade"]["curve"]
    ns: dict = {}
    exec((out / "model" / "student.py").read_text(), ns)
    answers = {ns["decide"](json.loads(line)["state"]) for line in data.read_text().splitlines()[:200]}
    assert answers <= {"weather", "booking", "music", None} and answers - {None}
    assert ns["decide"]({"text": ""}) in {"weather", "booking", "music", None}
    from hybrid.students import Student

    model = Student.load(out / "model" / "model.json")
    assert model.content_hash == report["shipped"]["content_hash"] == ns["CONTENT_HASH"]
    assert model.defer_below == report["cascade"]["threshold"] or report["cascade"]["threshold"] is None


def test_cascade_on_numeric_states_ships_a_deferring_student():
    from auto_search import AutoDistill
    from hybrid.data.dataset import DistillDataset
    from hybrid.exports import export_python

    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 2)).astype(np.float32)
    P = np.eye(2, dtype=np.float32)[(X[:, 0] + 0.3 * rng.normal(size=800) > 0).astype(int)]  # noisy near the boundary
    result = AutoDistill(families=("tree",), budget_s=30, policy="cascade:0.95", n_jobs=1, verbose=0, val_fraction=0.5).fit(
        DistillDataset(X, P, ["left", "right"], ["x", "y"])
    )
    student, info = result.student, result.cascade
    assert info["threshold"] is not None and student.defer_below == info["threshold"]
    assert info["calibration"]["n"] + info["held_out"]["n"] == 400  # two disjoint halves of the held-out states
    ns: dict = {}
    exec(export_python(student), ns)
    decided = [ns["decide"]([float(a), float(b)]) for a, b in X[:200]]
    assert set(decided) <= {"left", "right", None}
    assert decided == [student.decide(x) for x in X[:200]]


def test_a_cascade_too_few_calibration_requests_can_show_is_refused_with_the_number_needed():
    """Issue 23 #4: cascade:0.99 on 300 decisions shipped a router deferring every request."""
    from auto_search import AutoDistill, SearchError
    from hybrid.data.dataset import DistillDataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    P = np.eye(2, dtype=np.float32)[(X[:, 0] > 0).astype(int)]  # a tree agrees on every request
    search = AutoDistill(families=("tree",), budget_s=30, policy="cascade:0.99", n_jobs=1, verbose=0)
    with pytest.raises(SearchError, match=r"cannot be shown on 30 calibration requests.*at least 99 calibration requests, about 990 decisions"):
        search.fit(DistillDataset(X, P, ["left", "right"], ["x", "y"]))
    ok = AutoDistill(families=("tree",), budget_s=30, policy="cascade:0.9", n_jobs=1, verbose=0).fit(DistillDataset(X, P, ["left", "right"], ["x", "y"]))
    assert ok.cascade["held_out"]["coverage"] > 0 and ok.student.decide(X[0]) in {"left", "right"}
    assert ok.verdict().startswith(("MET agreement ≥ 90% on decided requests", "MISSED agreement ≥ 90%"))
