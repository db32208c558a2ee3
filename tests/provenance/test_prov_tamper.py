"""The tamper suite: a 1,000-entry ledger, each attack caught by a finding naming its entry."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from _prov_helpers import subject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.checkpoint import make_checkpoint
from provenance.hashing import canonical_json, hash_bytes, hash_file
from provenance.keys import generate_key
from provenance.ledger import KINDS, Ledger
from provenance.verify import verify_ledger

N = 1000
SAMPLED = [0, *random.Random(6).sample(range(1, N - 1), 2), N - 1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 1,000-entry ledger of dataset → teacher → search → model → export chains, and its checkpoint."""
    root = tmp_path_factory.mktemp("tamper")
    key, attacker = generate_key(root / "trusted.key"), generate_key(root / "attacker.key")
    artifact_kinds = KINDS[:5]
    items = [
        {"kind": artifact_kinds[i % 5], "subject": subject(i), "parents": [subject(i - 1)] if i % 5 else [], "attrs": {"i": i, "score": i / 7}}
        for i in range(N)
    ]
    with Ledger(root / "ledger.db") as ledger:
        entries = ledger.append_many(items, key=key)
        cp = make_checkpoint(ledger, key)
    return {"root": root, "key": key, "attacker": attacker, "entries": entries, "checkpoint": cp}


def tampered(world, name: str, *sql: tuple) -> Path:
    """A copy of the ledger with the triggers dropped (as an attacker with the file can) and ``sql`` run."""
    path = world["root"] / f"{name}.db"
    shutil.copy(world["root"] / "ledger.db", path)
    conn = sqlite3.connect(path, isolation_level=None)
    for trigger in ("entries_chain", "entries_no_update", "entries_no_delete"):
        conn.execute(f"DROP TRIGGER {trigger}")
    for statement in sql:
        conn.execute(*statement)
    conn.close()
    return path


def verify(world, path, *, with_checkpoint=False, **kw):
    return verify_ledger(path, [world["root"] / "trusted.key.pub"], checkpoint=world["checkpoint"] if with_checkpoint else None, **kw)


def flip_byte(value):
    """The same value with one byte in its middle changed."""
    if isinstance(value, int):
        return value ^ (1 << 20)
    data = bytearray(value.encode() if isinstance(value, str) else value)
    i = len(data) // 2
    data[i] = ord("0") if data[i] != ord("0") else ord("1")
    return data.decode() if isinstance(value, str) else bytes(data)


def test_untampered_copy_verifies_in_both_modes(world):
    path = tampered(world, "clean")
    full, fast = verify(world, path, jobs=2), verify(world, path, with_checkpoint=True)
    assert full.ok and fast.ok and full.size == fast.size == N
    assert full.signatures_checked == N and fast.signatures_checked == 0


# Below a checkpoint the signed Merkle root, not the row signature, authenticates a body, so a
# changed signature there is checked by full verification only.
COLUMN_CASES = [
    (column, row, cp) for column in ("body", "entry_hash", "signature", "seq") for row in SAMPLED for cp in (False, True) if not (column == "signature" and cp)
]


@pytest.mark.parametrize(("column", "row", "with_checkpoint"), COLUMN_CASES)
def test_a_byte_changed_in_any_column_is_caught_naming_the_entry(world, column, row, with_checkpoint):
    name = f"{column}-{row}-{with_checkpoint}"
    if column == "body":  # flipped in the file itself: SQLite refuses to store a body that is not JSON
        path = tampered(world, name)
        data = bytearray(path.read_bytes())
        body = world["entries"][row].body
        at = data.index(body) + len(body) // 2
        data[at] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        conn = sqlite3.connect(world["root"] / "ledger.db")
        old = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (row,)).fetchone()[0]
        conn.close()
        path = tampered(world, name, (f"UPDATE entries SET {column} = ? WHERE seq = ?", (flip_byte(old), row)))
    result = verify(world, path, with_checkpoint=with_checkpoint)
    original = world["entries"][row].entry_hash
    assert not result.ok
    assert any(f.seq == row or f.entry_hash == original for f in result.findings), result.findings


def test_a_deleted_row_is_caught_at_the_gap(world):
    result = verify(world, tampered(world, "deleted", ("DELETE FROM entries WHERE seq = 500",)))
    assert {f.seq for f in result.findings} == {501}


def test_two_swapped_rows_are_both_caught(world):
    path = tampered(
        world,
        "swapped",
        ("UPDATE entries SET seq = -1 WHERE seq = 300",),
        ("UPDATE entries SET seq = 300 WHERE seq = 301",),
        ("UPDATE entries SET seq = 301 WHERE seq = -1",),
    )
    assert {f.seq for f in verify(world, path).findings} >= {300, 301}


def test_a_forged_row_signed_by_an_untrusted_key_is_caught(world):
    attacker, victim = world["attacker"], world["entries"][700]
    body = canonical_json(
        {
            "seq": 700,
            "time": victim.time,
            "kind": "model",
            "subject": subject("backdoor"),
            "parents": [],
            "attrs": {},
            "prev": victim.prev,
            "key_id": attacker.key_id,
        }
    )
    forged_hash = hash_bytes(body)
    path = tampered(
        world,
        "forged",
        ("UPDATE entries SET body = ?, entry_hash = ?, signature = ? WHERE seq = 700", (body.decode(), forged_hash, attacker.sign(forged_hash.encode()))),
    )
    findings = verify(world, path).findings
    assert any(f.seq == 700 and f.entry_hash == forged_hash and "untrusted key" in f.problem for f in findings)


def test_a_replayed_entry_is_caught(world):
    path = tampered(
        world, "replayed", (f"INSERT INTO entries (seq, body, entry_hash, signature) SELECT {N}, body, entry_hash, signature FROM entries WHERE seq = 10",)
    )
    findings = verify(world, path).findings
    assert any(f.seq == N and "replayed" in f.problem for f in findings)


def test_signatures_swapped_between_rows_are_caught_with_parallel_checks(world):
    path = tampered(
        world,
        "sigswap",
        ("UPDATE entries SET signature = (SELECT signature FROM entries WHERE seq = 401) WHERE seq = 400",),
        ("UPDATE entries SET signature = ? WHERE seq = 401", (world["entries"][400].signature,)),
    )
    for jobs in (1, 2):
        findings = verify(world, path, jobs=jobs).findings
        assert [(f.seq, "signature does not verify" in f.problem) for f in findings] == [(400, True), (401, True)]


def test_truncation_is_caught_only_against_a_checkpoint(world):
    path = tampered(world, "truncated", (f"DELETE FROM entries WHERE seq >= {N - 10}",))
    assert verify(world, path).ok
    findings = verify(world, path, with_checkpoint=True).findings
    assert [(f.seq, f.entry_hash, "truncated" in f.problem) for f in findings] == [(N - 1, world["entries"][-1].entry_hash, True)]


def test_a_fork_rewritten_with_the_trusted_key_is_caught_only_against_a_checkpoint(world):
    path = tampered(world, "fork", ("DELETE FROM entries WHERE seq >= 900",))
    with Ledger(path) as ledger:
        ledger.append_many([{"kind": "model", "subject": subject(f"fork{i}")} for i in range(100)], key=world["key"])
    assert verify(world, path).ok
    findings = verify(world, path, with_checkpoint=True).findings
    assert len(findings) == 1 and findings[0].seq == N - 1 and "forked" in findings[0].problem


def test_an_untrusted_signer_is_caught_on_each_of_its_entries(world):
    path = tampered(world, "untrusted")
    with Ledger(path) as ledger:
        extra = ledger.append_many([{"kind": "note", "subject": f"n{i}"} for i in range(3)], key=world["attacker"])
    findings = verify(world, path).findings
    assert [f.seq for f in findings] == [e.seq for e in extra]
    assert all("untrusted key " + world["attacker"].key_id in f.problem for f in findings)
    only_attacker = verify_ledger(path, [world["root"] / "attacker.key.pub"])
    assert len(only_attacker.findings) == N


def test_an_artifact_whose_bytes_changed_is_caught(world, tmp_path):
    model = tmp_path / "student.json"
    model.write_text('{"weights": [1, 2, 3]}')
    path = tampered(world, "artifact")
    with Ledger(path) as ledger:
        recorded = ledger.append("model", hash_file(model), parents=[subject(N - 1)], attrs={"name": model.name}, key=world["key"])
    good = verify(world, path, artifact=model)
    assert good.ok and good.artifact_hash == recorded.subject
    assert [e.subject for e in good.lineage][-2:] == [subject(N - 1), recorded.subject]
    model.write_text('{"weights": [1, 2, 4]}')
    changed = verify(world, path, artifact=model)
    assert len(changed.findings) == 1 and str(model) in changed.findings[0].problem and "not recorded" in changed.findings[0].problem


def test_a_revoked_artifact_fails_the_artifact_check(world, tmp_path):
    model = tmp_path / "student.json"
    model.write_text("{}")
    path = tampered(world, "revoked")
    with Ledger(path) as ledger:
        ledger.append("model", hash_file(model), parents=[subject(3)], key=world["key"])
        revocation = ledger.revoke(subject(0), key=world["key"], reason="dataset withdrawn")
    result = verify(world, path, artifact=model)
    assert [(f.seq, "revoked" in f.problem) for f in result.findings] == [(revocation.seq, True)]
    assert result.revoked[hash_file(model)] == revocation.seq


def test_a_malformed_rotation_signed_by_the_trusted_key_is_a_finding_not_a_crash(world):
    key, head = world["key"], world["entries"][-1]
    body = canonical_json(
        {
            "seq": N,
            "time": head.time,
            "kind": "key-rotation",
            "subject": subject("k"),
            "parents": [],
            "attrs": {"public_key": "zz"},
            "prev": head.entry_hash,
            "key_id": key.key_id,
        }
    )
    entry_hash = hash_bytes(body)
    path = tampered(
        world,
        "bad-rotation",
        ("INSERT INTO entries (seq, body, entry_hash, signature) VALUES (?, ?, ?, ?)", (N, body.decode(), entry_hash, key.sign(entry_hash.encode()))),
    )
    findings = verify(world, path).findings
    assert [(f.seq, "malformed key-rotation" in f.problem) for f in findings] == [(N, True)]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, N - 1), column=st.sampled_from(["body", "entry_hash", "signature"]), where=st.floats(0, 1), data=st.data())
def test_any_single_bit_flip_in_a_stored_value_is_caught(world, row, column, where, data):
    entry = world["entries"][row]
    value = {"body": entry.body, "entry_hash": entry.entry_hash.encode(), "signature": entry.signature}[column]
    path = tampered(world, "fuzz")
    raw = bytearray(path.read_bytes())
    at = raw.index(value) + min(int(where * len(value)), len(value) - 1)
    raw[at] ^= 1 << data.draw(st.integers(0, 6 if column != "signature" else 7))
    path.write_bytes(bytes(raw))
    full = verify(world, path)
    assert any(f.seq in (row, row + 1) for f in full.findings), full.findings
    if column != "signature":
        fast = verify(world, path, with_checkpoint=True)
        assert any(f.seq in (row, row + 1) for f in fast.findings), fast.findings
