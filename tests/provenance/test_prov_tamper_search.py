"""A hyperparameter changed in a recorded search entry and re-signed by an attacker's key.

The attacker holds the ledger file (not the trusted key): they rewrite the search entry's
body with one setting changed, recompute its entry hash and sign it with their own key,
either naming their key honestly or claiming the trusted key id. ``verify_ledger`` and
``provenance verify`` must flag the entry by seq and hash, say why, and exit 1.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _prov_helpers import subject

from provenance.checkpoint import make_checkpoint
from provenance.hashing import canonical_json, hash_bytes
from provenance.keys import generate_key
from provenance.ledger import Ledger
from provenance.verify import verify_ledger

WORKTREE = Path(__file__).resolve().parents[2]
# Shaped like the entry auto_search/record.py writes (hand-built here: provenance tests do not import auto_search).
SEARCH_ATTRS = {
    "config_hash": subject("config"),
    "seed": 0,
    "candidates": 12,
    "stopped_by": "plan",
    "reproducible": True,
    "config": {
        "families": ["tree", "rules", "mlp"],
        "policy": "knee",
        "val_fraction": 0.2,
        "seed": 0,
        "eta": 3,
        "min_rung_states": 1000,
        "max_epochs": 30,
        "closed_loop_episodes": 3,
        "dagger_iterations": 2,
    },
    "choice": {"candidate": "tree-3", "hyperparameters": {"max_depth": 6, "min_samples_leaf": 5}},
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """dataset → teacher → search → model → export, signed by the trusted key; the attacker's key beside it."""
    root = tmp_path_factory.mktemp("search-tamper")
    trusted, attacker = generate_key(root / "trusted.key"), generate_key(root / "attacker.key")
    with Ledger(root / "ledger.db") as ledger:
        entries = ledger.append_many(
            [
                {"kind": "dataset", "subject": subject("data")},
                {"kind": "teacher", "subject": subject("teacher")},
                {"kind": "search", "subject": subject("search"), "parents": [subject("data"), subject("teacher")], "attrs": SEARCH_ATTRS},
                {"kind": "model", "subject": subject("model"), "parents": [subject("search"), subject("data")], "attrs": {"family": "tree"}},
                {"kind": "export", "subject": subject("export"), "parents": [subject("model")], "attrs": {"target": "c"}},
            ],
            key=trusted,
        )
        checkpoint = make_checkpoint(ledger, trusted)
    return {"root": root, "trusted": trusted, "attacker": attacker, "entries": entries, "checkpoint": checkpoint}


def forge_search_entry(recorded, name: str, *, claim_trusted_key_id: bool) -> tuple[Path, str]:
    """A copy of the ledger whose search entry says max_depth 7 instead of 6, re-signed by the attacker."""
    search = recorded["entries"][2]
    assert search.kind == "search" and search.attrs["choice"]["hyperparameters"]["max_depth"] == 6
    attrs = json.loads(json.dumps(search.attrs))
    attrs["choice"]["hyperparameters"]["max_depth"] = 7
    attacker = recorded["attacker"]
    key_id = recorded["trusted"].key_id if claim_trusted_key_id else attacker.key_id
    body = canonical_json(
        {
            "seq": search.seq,
            "time": search.time,
            "kind": search.kind,
            "subject": search.subject,
            "parents": list(search.parents),
            "attrs": attrs,
            "prev": search.prev,
            "key_id": key_id,
        }
    )
    entry_hash = hash_bytes(body)
    path = recorded["root"] / f"{name}.db"
    shutil.copy(recorded["root"] / "ledger.db", path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER entries_no_update")  # as anyone holding the file can
    conn.execute(
        "UPDATE entries SET body = ?, entry_hash = ?, signature = ? WHERE seq = ?", (body.decode(), entry_hash, attacker.sign(entry_hash.encode()), search.seq)
    )
    conn.close()
    return path, entry_hash


def test_the_untampered_ledger_verifies(recorded):
    result = verify_ledger(recorded["root"] / "ledger.db", [recorded["root"] / "trusted.key.pub"])
    assert result.ok and result.size == 5


@pytest.mark.parametrize("claim_trusted_key_id", [False, True], ids=["attacker-key-id", "trusted-key-id-claimed"])
def test_verify_ledger_names_the_resigned_search_entry_and_the_cause(recorded, claim_trusted_key_id):
    path, forged_hash = forge_search_entry(recorded, f"forged-{claim_trusted_key_id}", claim_trusted_key_id=claim_trusted_key_id)
    findings = verify_ledger(path, [recorded["root"] / "trusted.key.pub"]).findings
    at_search = [f for f in findings if f.seq == 2]
    assert [f.entry_hash for f in at_search] == [forged_hash]
    cause = "signature does not verify with its signer's key" if claim_trusted_key_id else f"signed by untrusted key {recorded['attacker'].key_id}"
    assert cause in at_search[0].problem
    # The next entry still names the original search entry as prev: the chain breaks there too.
    assert [(f.seq, "chain broken" in f.problem) for f in findings if f.seq != 2] == [(3, True)]


def test_a_checkpoint_also_catches_the_forgery(recorded):
    path, _ = forge_search_entry(recorded, "forged-cp", claim_trusted_key_id=False)
    result = verify_ledger(path, [recorded["root"] / "trusted.key.pub"], checkpoint=recorded["checkpoint"])
    assert not result.ok
    assert any("forked or rewritten" in f.problem for f in result.findings)


def test_provenance_verify_exits_1_naming_the_entry_and_the_cause(recorded):
    path, forged_hash = forge_search_entry(recorded, "forged-cli", claim_trusted_key_id=False)
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    proc = subprocess.run(
        [sys.executable, "-m", "provenance.cli", "verify", str(path), "--key", str(recorded["root"] / "trusted.key.pub")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1, proc
    expected = f"FINDING entry 2 ({forged_hash}): signed by untrusted key {recorded['attacker'].key_id}"
    assert expected in proc.stdout.splitlines()
    assert proc.stdout.splitlines()[-1].startswith("FAILED: 2 finding(s)")
    as_json = subprocess.run(
        [sys.executable, "-m", "provenance.cli", "verify", str(path), "--key", str(recorded["root"] / "trusted.key.pub"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert as_json.returncode == 1
    assert {"seq": 2, "entry_hash": forged_hash, "problem": f"signed by untrusted key {recorded['attacker'].key_id}"} in json.loads(as_json.stdout)["findings"]
