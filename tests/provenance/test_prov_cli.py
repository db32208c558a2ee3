"""The `provenance` CLI through subprocess: the full workflow, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from provenance.intoto import verify_envelope
from provenance.keys import load_public_key


def run(*args, cwd, env=None, passphrase=None):
    environment = dict(os.environ, **(env or {}))
    environment.pop("PROVENANCE_PASSPHRASE", None)
    if passphrase is not None:
        environment["PROVENANCE_PASSPHRASE"] = passphrase
    return subprocess.run([sys.executable, "-m", "provenance.cli", *map(str, args)], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc, *words):
    assert proc.returncode == 2, proc
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("provenance: error: "), proc.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A key, a ledger with dataset → model, and the model file, made through the CLI."""
    d = tmp_path_factory.mktemp("cli")
    (d / "data.csv").write_text("x,y\n1,2\n")
    (d / "student.json").write_text('{"tree": [1, 2]}')
    assert run("keygen", "ci.key", cwd=d).returncode == 0
    dataset = run("record", "--ledger", "L.db", "--key", "ci.key", "dataset", "data.csv", cwd=d).stdout.strip()
    data_subject = json.loads(run("show", "L.db", dataset, cwd=d).stdout)["subject"]
    run("record", "--ledger", "L.db", "--key", "ci.key", "model", "student.json", "--parent", data_subject, "--attr", "family=tree", "--attr", "depth=3", cwd=d)
    return d, data_subject


def test_help_shows_examples_and_exit_codes(tmp_path):
    proc = run("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "examples:" in proc.stdout and "exit codes: 0 ok, 1" in proc.stdout


def test_log_show_and_verify_with_artifact_lineage(workspace):
    d, data_subject = workspace
    log = json.loads(run("log", "L.db", "--json", cwd=d).stdout)
    assert [e["kind"] for e in log] == ["dataset", "model"]
    assert log[1]["parents"] == [data_subject] and log[1]["attrs"] == {"name": "student.json", "family": "tree", "depth": 3}
    proc = run("verify", "L.db", "--key", "ci.key.pub", "--artifact", "student.json", "--jobs", "2", cwd=d)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "OK: 2 entries, 2 signatures checked"
    assert sum(line.startswith("LINEAGE") for line in proc.stdout.splitlines()) == 2
    assert json.loads(run("verify", "L.db", "--key", "ci.key.pub", "--json", cwd=d).stdout)["ok"] is True


def test_checkpoint_prove_and_offline_proof_check(workspace, tmp_path):
    d, _data_subject = workspace
    assert run("checkpoint", "--ledger", "L.db", "--key", "ci.key", "-o", tmp_path / "cp.json", cwd=d).returncode == 0
    head = json.loads(run("show", "L.db", "1", cwd=d).stdout)["entry_hash"]
    assert run("prove", "L.db", head, "--checkpoint", tmp_path / "cp.json", "-o", tmp_path / "p.json", cwd=d).returncode == 0
    ok = run("verify-proof", tmp_path / "p.json", "--checkpoint", tmp_path / "cp.json", "--key", "ci.key.pub", cwd=d)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")
    assert run("keygen", tmp_path / "other.key", cwd=d).returncode == 0
    wrong_key = run("verify-proof", tmp_path / "p.json", "--checkpoint", tmp_path / "cp.json", "--key", tmp_path / "other.key.pub", cwd=d)
    assert wrong_key.returncode == 1
    proof = json.loads((tmp_path / "p.json").read_text())
    proof["index"] = 0
    (tmp_path / "p.json").write_text(json.dumps(proof))
    assert run("verify-proof", tmp_path / "p.json", "--checkpoint", tmp_path / "cp.json", "--key", "ci.key.pub", cwd=d).returncode == 1
    assert run("verify", "L.db", "--key", "ci.key.pub", "--checkpoint", tmp_path / "cp.json", cwd=d).returncode == 0


def test_lineage_dot_and_in_toto_export(workspace, tmp_path):
    d, data_subject = workspace
    dot = run("lineage", "L.db", data_subject, "--dot", cwd=d).stdout
    assert dot.startswith("digraph lineage {") and dot.count("->") == 1
    assert len(json.loads(run("lineage", "L.db", data_subject, "--json", cwd=d).stdout)["descendants"]) == 1
    assert run("export", "L.db", "--in-toto", tmp_path / "att", "--key", "ci.key", cwd=d).returncode == 0
    [envelope] = list((tmp_path / "att").glob("*.intoto.json"))
    statement = verify_envelope(json.loads(envelope.read_text()), load_public_key(d / "ci.key.pub"))
    assert statement["predicate"]["parents"][0]["digest"] == {"sha256": data_subject.split(":")[1]}


def test_verify_exits_1_and_names_the_problem_when_an_artifact_changed(workspace, tmp_path):
    d, _ = workspace
    changed = tmp_path / "student.json"
    changed.write_text('{"tree": [1, 3]}')
    proc = run("verify", "L.db", "--key", "ci.key.pub", "--artifact", changed, cwd=d)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("FINDING ledger: artifact") and "not recorded" in proc.stdout


def test_bad_inputs_exit_2_with_one_line(workspace, tmp_path):
    d, _ = workspace
    (tmp_path / "notes.txt").write_text("not a database, just text\n" * 50)
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    assert_one_line_error(run("verify", tmp_path / "missing.db", "--key", "ci.key.pub", cwd=d), "not found")
    assert_one_line_error(run("log", tmp_path / "notes.txt", cwd=d), "not a SQLite ledger")
    assert_one_line_error(run("verify", tmp_path / "other.db", "--key", "ci.key.pub", cwd=d), "not a provenance ledger")
    assert_one_line_error(run("verify", "L.db", "--key", tmp_path / "nokey.pub", cwd=d), "not found")
    assert_one_line_error(run("verify", "L.db", cwd=d), "--key")
    assert_one_line_error(run("record", "--ledger", "L.db", "--key", "ci.key", "model", tmp_path / "absent.bin", cwd=d), "not found")
    assert_one_line_error(run("show", "L.db", "99", cwd=d), "no entry")


def test_wrong_passphrase_exits_2_with_one_line(tmp_path):
    assert run("keygen", "enc.key", cwd=tmp_path, passphrase="a long random passphrase").returncode == 0
    (tmp_path / "f").write_text("x")
    record = ("record", "--ledger", "L.db", "--key", "enc.key", "note", "f")
    assert_one_line_error(run(*record, cwd=tmp_path, passphrase="wrong"), "wrong passphrase")
    assert_one_line_error(run(*record, cwd=tmp_path), "PROVENANCE_PASSPHRASE")
    assert run(*record, cwd=tmp_path, passphrase="a long random passphrase").returncode == 0


def test_bad_usage_exits_2(tmp_path):
    assert run("verify", "L.db", "--jobs", "0", cwd=tmp_path).returncode == 2
    assert run("record", "--ledger", "L.db", "--key", "k", "weights", "f", cwd=tmp_path).returncode == 2


def test_rotate_then_revoke_through_the_cli(tmp_path):
    (tmp_path / "data.csv").write_text("a\n")
    (tmp_path / "model.json").write_text("{}")
    for name in ("old.key", "new.key"):
        assert run("keygen", name, cwd=tmp_path).returncode == 0
    data = run("record", "--ledger", "L.db", "--key", "old.key", "dataset", "data.csv", cwd=tmp_path).stdout.strip()
    data_subject = json.loads(run("show", "L.db", data, cwd=tmp_path).stdout)["subject"]
    assert run("rotate", "--ledger", "L.db", "--key", "old.key", "new.key.pub", cwd=tmp_path).returncode == 0
    run("record", "--ledger", "L.db", "--key", "new.key", "model", "model.json", "--parent", data_subject, cwd=tmp_path)
    assert run("verify", "L.db", "--key", "old.key.pub", cwd=tmp_path).returncode == 0
    assert run("revoke", "--ledger", "L.db", "--key", "new.key", data_subject, "--reason", "leaked", cwd=tmp_path).returncode == 0
    listed = run("verify", "L.db", "--key", "old.key.pub", cwd=tmp_path)
    assert listed.returncode == 0 and sum(line.startswith("REVOKED") for line in listed.stdout.splitlines()) == 2
    assert run("verify", "L.db", "--key", "old.key.pub", "--artifact", "model.json", cwd=tmp_path).returncode == 1
    stale = run("record", "--ledger", "L.db", "--key", "old.key", "note", "data.csv", cwd=tmp_path)
    assert stale.returncode == 0 and run("verify", "L.db", "--key", "old.key.pub", cwd=tmp_path).returncode == 1
