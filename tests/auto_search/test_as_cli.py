"""The ``agent-distill search`` CLI through a real subprocess, on tiny budgets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import jsonschema
import pytest

from auto_search.report import SCHEMA_PATH


def run_cli(*args, **kw):
    cmd = [sys.executable, "-m", "auto_search.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def data_npz(small_dataset, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "decisions.npz"
    small_dataset.save(path)
    return path


def test_search_with_a_two_second_budget_writes_the_report(data_npz, tmp_path):
    out = tmp_path / "out"
    # one in-process worker and no torch import: a loaded machine still finishes trees in 2 s
    proc = run_cli("search", data_npz, "--out", out, "--budget", 2, "--families", "tree", "rules", "--n-jobs", 1, "--verbose", 0)
    if proc.returncode == 2:  # on a loaded machine imports alone can eat two seconds: nothing finished, nothing written
        assert "no candidate finished" in proc.stderr and not out.exists()
        return
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "report.json").read_text())
    assert data["config"]["budget_s"] == 2.0 and data["config"]["families"] == ["tree", "rules"]
    assert (out / "report.html").exists() and (out / "report.md").exists()
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["chosen"] is not None
    assert "report:" in proc.stderr


def test_search_records_in_a_ledger_when_given_a_key(data_npz, tmp_path):
    from provenance.keys import generate_key

    generate_key(tmp_path / "k.key")
    out = tmp_path / "out"
    proc = run_cli(
        "search",
        data_npz,
        "--out",
        out,
        "--budget",
        10,
        "--families",
        "tree",
        "--n-jobs",
        1,
        "--ledger",
        tmp_path / "l.db",
        "--key",
        tmp_path / "k.key",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert [e["kind"] for e in printed["ledger_entries"]] == ["dataset", "search", "model", "export", "export"]  # Python and C
    assert (out / "model" / "model.json").exists() and (out / "model" / "student.py").exists()


def test_jsonl_decisions_and_a_trajectory_store_are_read(small_dataset, tmp_path):
    from hybrid.data.store import TrajectoryStore

    lines = [
        json.dumps({"state": dict(zip(small_dataset.feature_names, map(float, x))), "action_probs": dict(zip(small_dataset.action_names, map(float, p)))})
        for x, p in zip(small_dataset.X[:300], small_dataset.P[:300])
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    store = TrajectoryStore(tmp_path / "d.db")
    store.ingest_jsonl(tmp_path / "d.jsonl")
    store.close()
    hashes = []
    for data in (tmp_path / "d.jsonl", tmp_path / "d.db"):
        proc = run_cli("search", data, "--out", tmp_path / data.suffix, "--budget", 5, "--families", "tree", "--n-jobs", 1)
        assert proc.returncode == 0, proc.stderr
        report = json.loads((tmp_path / data.suffix / "report.json").read_text())
        assert report["dataset"]["n_states"] == 300 and report["dataset"]["feature_names"] == list(small_dataset.feature_names)
        hashes.append(report["dataset"]["content_hash"])
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "0"], "budget_s must be > 0"),
        (["--families", "forest"], "unknown student family"),
        (["--policy", "cheapest"], "unknown policy"),
    ],
)
def test_bad_options_exit_2_with_a_message_and_no_traceback(data_npz, tmp_path, args, message):
    proc = run_cli("search", data_npz, "--out", tmp_path / "out", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_help_shows_an_example_and_every_config_option():
    proc = run_cli("search", "--help")
    assert proc.returncode == 0 and "example:" in proc.stdout
    assert all(flag in proc.stdout for flag in ("--budget", "--policy", "--families", "--ledger", "--key", "--n-jobs", "--eta"))


def test_unreadable_data_exits_2(tmp_path):
    (tmp_path / "x.parquet").write_text("nope")
    for path in (tmp_path / "missing.npz", tmp_path / "x.parquet"):
        proc = run_cli("search", path, "--out", tmp_path / "out")
        assert proc.returncode == 2 and "agent-distill: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_ships_nothing_and_creates_no_output(make_dataset, tmp_path):
    data = tmp_path / "big.npz"
    make_dataset(n=20_000, d=8, k=4).save(data)  # a search of ~30 s on one worker: Ctrl-C lands mid-search
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
        "120",
        "--families",
        "tree",
        "mlp",
        "--n-jobs",
        "1",
        "--verbose",
        "0",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr.readline().startswith("searching 20000 states")
    time.sleep(2)  # let some candidates finish
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    # what finished before the interrupt is not what was asked for: nothing ships, DIR is not created (issue 23 #1)
    assert not out.exists() and err.strip().splitlines()[-1].endswith(f"nothing shipped, {out} unchanged (not created)"), err


def test_with_an_environment_the_cli_chooses_by_retention_and_records_the_teacher(tmp_path):
    from hybrid.loop.rollouts import collect
    from hybrid.teachers.zoo import load_teacher
    from provenance.keys import generate_key
    from provenance.verify import verify_ledger

    data = tmp_path / "cartpole.npz"
    collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=2, seed=0).dataset.save(data)
    generate_key(tmp_path / "k.key")
    out = tmp_path / "out"
    proc = run_cli(
        "search",
        data,
        "--out",
        out,
        "--env",
        "CartPole-v1",
        "--policy",
        "min-retention:0.99",
        "--budget",
        20,
        "--families",
        "tree",
        "rules",
        "--n-jobs",
        1,
        "--closed-loop-episodes",
        2,
        "--closed-loop-max-episodes",
        4,
        "--dagger-iterations",
        0,
        "--verbose",
        0,
        "--ledger",
        tmp_path / "l.db",
        "--key",
        tmp_path / "k.key",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert "teacher's return" in report["chosen"]["choice"] and report["closed_loop"]["teacher_return"] > 400
    assert [e["kind"] for e in report["ledger_entries"]] == ["dataset", "teacher", "search", "model", "export", "export"]
    assert verify_ledger(tmp_path / "l.db", [tmp_path / "k.key.pub"]).ok
    bad = run_cli("search", data, "--out", out, "--env", "NoSuchEnv-v0", "--budget", 5)
    assert bad.returncode == 2 and "NoSuchEnv-v0" in bad.stderr and "Traceback" not in bad.stderr
