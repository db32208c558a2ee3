"""The ledger API: appends, batches, reads, refusals, key rotation and revocation in verify."""

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from _prov_helpers import subject
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.errors import HashingError, LedgerError, ProvenanceError
from provenance.hashing import canonical_json, hash_bytes
from provenance.keys import SigningKey, generate_key
from provenance.ledger import GENESIS, Entry, Ledger
from provenance.verify import verify_ledger


def test_append_chains_signs_and_reads_back(ledger_path, key):
    with Ledger(ledger_path) as ledger:
        first = ledger.append("dataset", subject("d"), attrs={"rows": 10, "scale": 1.0}, key=key)
        second = ledger.append("model", subject("m"), parents=[first.subject], key=key)
        assert (first.seq, first.prev, second.seq, second.prev) == (0, GENESIS, 1, first.entry_hash)
        assert first.entry_hash == hash_bytes(first.body)
        assert key.public_key.verify(first.signature, first.entry_hash.encode())
        assert ledger.entries() == [first, second]
        assert ledger.head() == second and len(ledger) == 2
        assert ledger.find(subject("m")) == [second]
        assert ledger.get(1) == ledger.get(second.entry_hash) == ledger.get("1") == second
        assert ledger.entries()[0].attrs == {"rows": 10, "scale": 1.0}
        assert isinstance(ledger.entries()[0].attrs["scale"], float)
    assert verify_ledger(ledger_path, [key]).ok


def test_append_many_is_one_chain_in_order(ledger_path, key):
    items = [
        {"kind": k, "subject": subject(k), "parents": [subject(p)] if p else []}
        for k, p in [("dataset", None), ("teacher", None), ("search", "dataset"), ("model", "search"), ("export", "model")]
    ]
    with Ledger(ledger_path) as ledger:
        entries = ledger.append_many(items, key=key)
        assert [e.seq for e in entries] == [0, 1, 2, 3, 4]
        assert [e.prev for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
        assert ledger.entries() == entries
        assert ledger.append_many([], key=key) == []


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"kind": "weights", "subject": subject(1)}, "unknown entry kind"),
        ({"kind": "model", "subject": "not-a-hash"}, "prefixed hex hash"),
        ({"kind": "model", "subject": subject(1), "parents": ["x"]}, "parent"),
        ({"kind": "model", "subject": subject(1), "parents": subject(2)}, "not one string"),
        ({"kind": "model", "subject": subject(1), "extra": 1}, "unknown item field"),
        ({"kind": "key-rotation", "subject": subject(1), "attrs": {"public_key": "00" * 32}}, "not the key id"),
        ({"kind": "key-rotation", "subject": subject(1)}, "public_key"),
    ],
)
def test_bad_items_are_refused_and_nothing_is_written(ledger_path, key, item, match):
    with Ledger(ledger_path) as ledger:
        with pytest.raises(LedgerError, match=match):
            ledger.append_many([{"kind": "note", "subject": "fine"}, item], key=key)
        assert len(ledger) == 0


def test_non_finite_attrs_are_refused(ledger_path, key):
    with Ledger(ledger_path) as ledger, pytest.raises(HashingError):
        ledger.append("model", subject(1), attrs={"loss": math.nan}, key=key)


def test_triggers_refuse_update_delete_and_a_forked_insert(ledger_path, key):
    with Ledger(ledger_path) as ledger:
        e = ledger.append("note", "hello", key=key)
    conn = sqlite3.connect(ledger_path)
    for sql in ("UPDATE entries SET signature = x'00'", "DELETE FROM entries"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="chain broken"):
        conn.execute("INSERT INTO entries (seq, body, entry_hash, signature) VALUES (1, ?, ?, ?)", (e.body.decode(), e.entry_hash, e.signature))
    conn.close()


def test_opening_what_is_not_a_ledger(tmp_path):
    with pytest.raises(LedgerError, match="not found"):
        Ledger(tmp_path / "missing.db", create=False)
    (tmp_path / "text.db").write_text("hello, not sqlite" * 100)
    with pytest.raises(LedgerError, match="not a SQLite ledger"):
        Ledger(tmp_path / "text.db")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LedgerError, match="not a provenance ledger"):
        Ledger(tmp_path / "other.db")


def test_entry_from_a_body_that_is_not_an_entry():
    with pytest.raises(LedgerError, match="not a ledger entry"):
        Entry.from_body(b'{"seq": 1}', "sha256:00", b"")


def test_verify_needs_a_trusted_key(ledger_path, key):
    Ledger(ledger_path).close()
    with pytest.raises(ProvenanceError, match="trusted public key"):
        verify_ledger(ledger_path, [])


def test_rotation_admits_the_new_key_and_retires_the_old_by_seq(ledger_path, key, tmp_path):
    new = generate_key(tmp_path / "new.key")
    with Ledger(ledger_path) as ledger:
        early = ledger.append("note", "signed by new key before it was admitted", key=new)
        ledger.rotate_key(new, key=key)
        late = ledger.append("model", subject("m"), key=new)
        stale = ledger.append("note", "old key after retiring", key=key)
    result = verify_ledger(ledger_path, [key])
    problems = {f.seq: f.problem for f in result.findings}
    assert set(problems) == {early.seq, stale.seq}
    assert "untrusted key" in problems[early.seq] and "retired at entry 1" in problems[stale.seq]
    assert late.seq not in problems


def test_revoking_a_key_stops_it_from_the_next_entry(ledger_path, key, tmp_path):
    other = generate_key(tmp_path / "other.key")
    with Ledger(ledger_path) as ledger:
        ledger.rotate_key(other, key=key, retire=False)
        ledger.append("note", "fine", key=other)
        ledger.revoke(other.key_id, key=key, reason="laptop stolen")
        bad = ledger.append("note", "after revocation", key=other)
        ledger.append("note", "root still signs", key=key)
    result = verify_ledger(ledger_path, [key])
    assert [(f.seq, "revoked at entry 2" in f.problem) for f in result.findings] == [(bad.seq, True)]


def test_revoking_a_dataset_lists_every_descendant_and_still_passes(ledger_path, key):
    with Ledger(ledger_path) as ledger:
        ledger.append_many(
            [
                {"kind": "dataset", "subject": subject("d")},
                {"kind": "teacher", "subject": subject("t")},
                {"kind": "model", "subject": subject("m"), "parents": [subject("d"), subject("t")]},
                {"kind": "export", "subject": subject("x"), "parents": [subject("m")]},
                {"kind": "model", "subject": subject("clean"), "parents": [subject("t")]},
            ],
            key=key,
        )
        rev = ledger.revoke(subject("d"), key=key, reason="contains personal data")
    result = verify_ledger(ledger_path, [key])
    assert result.ok
    assert result.revoked == {subject("d"): rev.seq, subject("m"): rev.seq, subject("x"): rev.seq}


json_attrs = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=8,
    ),
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(attrs=json_attrs, note=st.text(min_size=1, max_size=12), kind=st.sampled_from(["note", "model"]))
def test_stored_body_is_exactly_the_canonical_json_of_the_entry(attrs, note, kind):
    subject_ = note if kind == "note" else subject(note)
    with tempfile.TemporaryDirectory() as d:
        key = SigningKey.from_seed(bytes(32))
        with Ledger(Path(d) / "l.db") as ledger:
            first, second = ledger.append_many([{"kind": kind, "subject": subject_, "parents": [subject("p")], "attrs": attrs}] * 2, key=key)
            stored = ledger.entries()
    for e in (first, second):
        fields = {
            "seq": e.seq,
            "time": e.time,
            "kind": e.kind,
            "subject": e.subject,
            "parents": list(e.parents),
            "attrs": e.attrs,
            "prev": e.prev,
            "key_id": e.key_id,
        }
        assert e.body == canonical_json(fields) and e.attrs == attrs
    assert stored == [first, second]


def test_checkpointed_verify_still_applies_rotations_and_revocations_under_the_checkpoint(ledger_path, key, tmp_path):
    from provenance.checkpoint import make_checkpoint

    new = generate_key(tmp_path / "new.key")
    with Ledger(ledger_path) as ledger:
        ledger.append("dataset", subject("d"), key=key)
        ledger.rotate_key(new, key=key)
        ledger.append("model", subject("m"), parents=[subject("d")], key=new)
        rev = ledger.revoke(subject("d"), key=new, reason="withdrawn")
        by_root, by_rotated = make_checkpoint(ledger, key), make_checkpoint(ledger, new)
        ledger.append("export", subject("x"), parents=[subject("m")], key=new)
        stale = ledger.append("note", "old key after it retired", key=key)
    results = [verify_ledger(ledger_path, [key], checkpoint=cp) for cp in (None, by_rotated)]
    for result in results:
        assert [f.seq for f in result.findings] == [stale.seq]
        assert result.revoked == {subject("d"): rev.seq, subject("m"): rev.seq, subject("x"): rev.seq}
    # the root key retired at entry 1, so its checkpoint over entries 0-3 vouches for nothing
    retired = verify_ledger(ledger_path, [key], checkpoint=by_root)
    assert {f.seq for f in retired.findings} == {stale.seq, None}
    assert any(f.seq is None and "after it was retired at entry 1" in f.problem for f in retired.findings)
    assert [r.signatures_checked for r in (*results, retired)] == [5, 5, 5]


def test_a_root_signed_checkpoint_vouches_for_its_prefix(ledger_path, key):
    """Signatures under a checkpoint made by a current root key are not checked again."""
    from provenance.checkpoint import make_checkpoint

    with Ledger(ledger_path) as ledger:
        for name in "abc":
            ledger.append("dataset", subject(name), key=key)
        cp = make_checkpoint(ledger, key)
        ledger.append("model", subject("m"), parents=[subject("a")], key=key)
    result = verify_ledger(ledger_path, [key], checkpoint=cp)
    assert result.ok and result.signatures_checked == 1


def test_a_checkpoint_signed_by_a_root_key_after_it_retired_is_not_trusted(tmp_path):
    """The retired key may be the stolen one: it cannot vouch for entries signed after it left."""
    from provenance.checkpoint import make_checkpoint

    key, new = generate_key(tmp_path / "old.key"), generate_key(tmp_path / "new.key")
    ledger_path = tmp_path / "l.db"
    with Ledger(ledger_path) as ledger:
        ledger.append("dataset", subject("d"), key=key)
        before = make_checkpoint(ledger, key)
        ledger.rotate_key(new, key=key)
        ledger.append("model", subject("m"), parents=[subject("d")], key=new)
        after = make_checkpoint(ledger, key)
    assert verify_ledger(ledger_path, [key], checkpoint=before).ok  # made while the key was current
    result = verify_ledger(ledger_path, [key], checkpoint=after)
    assert [f.problem for f in result.findings] == ["checkpoint signature does not verify: signed by key " + key.key_id + " after it was retired at entry 1"]
    assert result.signatures_checked == 3  # every entry checked, none skipped on the checkpoint's word
