"""What a new user tries on the command line (issue 23 #10): --version, the exit codes and the
default families in --help, a percentage where a share goes, verify with the wrong key."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from auto_search.errors import SearchConfigError
from auto_search.policies import parse_policy

REPO = Path(__file__).resolve().parents[2]


def run(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    )


@pytest.mark.parametrize("module, prog", [("auto_search.cli", "agent-distill"), ("provenance.cli", "provenance")])
def test_version(module, prog):
    proc = run(module, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"{prog} {metadata.version('agent-distill')}"


def test_search_help_lists_exit_codes_and_the_families_each_kind_of_data_gets():
    text = " ".join(run("auto_search.cli", "search", "--help").stdout.split())
    assert "exit codes: 0 done" in text and "2 bad input" in text and "130 interrupted" in text
    assert "keyword lists and linear students" in text


def test_a_percentage_where_a_share_goes_says_so():
    with pytest.raises(SearchConfigError, match=r"not a percentage: write cascade:0.99"):
        parse_policy("cascade:99")
    with pytest.raises(SearchConfigError, match="needs a number after the colon"):
        parse_policy("cascade:high")


def test_verify_with_the_wrong_key_names_it_once(tmp_path):
    from provenance import Ledger, generate_key

    key, other = generate_key(tmp_path / "k"), generate_key(tmp_path / "other")
    with Ledger(tmp_path / "l.db") as ledger:
        for i in range(3):
            ledger.append("note", f"n{i}", key=key)
    proc = run("provenance.cli", "verify", tmp_path / "l.db", "--key", tmp_path / "other.pub")
    assert proc.returncode == 1
    assert proc.stdout.count("\n") == 1 and "FINDING" not in proc.stdout
    assert other.key_id in proc.stdout and key.key_id in proc.stdout and "none of the 3 entries" in proc.stdout
