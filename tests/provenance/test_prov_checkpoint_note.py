"""Checkpoints as C2SP tlog-checkpoint signed notes: our reader and, independently, Go's.

Go's golang.org/x/mod/sumdb/note (the signed-note reference, used by the Go checksum
database) verifies the notes we write, golang.org/x/mod/sumdb/tlog recomputes their RFC 6962
root and checks our inclusion proofs, and notes Go signs verify with our code. Those tests
need ``go`` and the x/mod sources (Debian: ``apt-get install golang-go
golang-golang-x-mod-dev``) and are skipped, saying so, where they are missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _prov_helpers import subject
from cryptography.hazmat.primitives import serialization

from provenance.checkpoint import Checkpoint, NoteCheckpoint, load_checkpoint, make_checkpoint, make_checkpoint_note, prove
from provenance.errors import CheckpointError, NoteError
from provenance.keys import SigningKey, generate_key
from provenance.ledger import Ledger
from provenance.note import SignedNote, note_key_id, parse_verifier_key, sign_note, verifier_key
from provenance.verify import verify_ledger

WORKTREE = Path(__file__).resolve().parents[2]
GO_SOURCE = Path(__file__).parent / "c2sp_notecheck" / "main.go"
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-golang-x-mod-dev puts golang.org/x/mod
N = 7  # not a power of two, so the tree has a lone right edge


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("note")
    key, other = generate_key(root / "ci.key"), generate_key(root / "other.key")
    with Ledger(root / "L.db") as ledger:
        entries = ledger.append_many([{"kind": "note", "subject": f"n{i}", "attrs": {"i": i}} for i in range(N)], key=key)
        note_cp = make_checkpoint_note(ledger, key)
        json_cp = make_checkpoint(ledger, key)
    note_cp.save(root / "cp.note")
    return {"root": root, "key": key, "other": other, "entries": entries, "note": note_cp, "json": json_cp}


def copy_ledger(world, name: str, *sql: str) -> Path:
    path = world["root"] / f"{name}.db"
    shutil.copy(world["root"] / "L.db", path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER entries_no_delete")
    for statement in sql:
        conn.execute(statement)
    conn.close()
    return path


# --- the format, read by our code -------------------------------------------------------------


def test_note_text_is_origin_size_and_base64_root_with_one_signature_line(world):
    cp, key = world["note"], world["key"]
    text = (world["root"] / "cp.note").read_text(encoding="utf-8")
    origin, size, root, blank, signature, end = text.split("\n")
    assert origin == cp.origin == "agent-distill.dev/ledger/" + world["entries"][0].entry_hash[7:23]
    assert size == str(N) and blank == "" and end == ""
    assert base64.b64decode(root).hex() == cp.root[7:] == world["json"].root[7:]  # both formats sign one tree head
    assert signature.startswith("\u2014 " + origin + " ")
    raw = base64.b64decode(signature.rsplit(" ", 1)[1])
    expected_id = hashlib.sha256(origin.encode() + b"\n\x01" + key.public_key.raw).digest()[:4]  # c2sp.org/signed-note
    assert raw[:4] == expected_id and len(raw) == 4 + 64
    assert key.public_key.verify(raw[4:], f"{origin}\n{size}\n{root}\n".encode())


def test_verify_ledger_accepts_a_note_checkpoint_and_trusts_its_prefix(world):
    result = verify_ledger(world["root"] / "L.db", [world["key"]], checkpoint=world["root"] / "cp.note")
    assert result.ok and result.size == N and result.signatures_checked == 0
    assert isinstance(load_checkpoint(world["root"] / "cp.note"), NoteCheckpoint)
    world["json"].save(world["root"] / "cp.json")
    assert isinstance(load_checkpoint(world["root"] / "cp.json"), Checkpoint)


def test_a_note_checkpoint_catches_truncation_and_forks(world):
    truncated = copy_ledger(world, "truncated", f"DELETE FROM entries WHERE seq = {N - 1}")
    findings = verify_ledger(truncated, [world["key"]], checkpoint=world["note"]).findings
    assert [(f.seq, "truncated" in f.problem) for f in findings] == [(N - 1, True)]
    forked = copy_ledger(world, "forked", f"DELETE FROM entries WHERE seq >= {N - 2}")
    with Ledger(forked) as ledger:
        ledger.append_many([{"kind": "note", "subject": f"fork{i}"} for i in range(2)], key=world["key"])
    findings = verify_ledger(forked, [world["key"]], checkpoint=world["note"]).findings
    assert len(findings) == 1 and findings[0].seq == N - 1 and "forked or rewritten" in findings[0].problem


def test_a_note_with_a_changed_size_or_an_untrusted_signer_fails(world, tmp_path):
    text = (world["root"] / "cp.note").read_text(encoding="utf-8")
    resized = tmp_path / "resized.note"
    resized.write_text(text.replace(f"\n{N}\n", f"\n{N - 1}\n", 1), encoding="utf-8")
    findings = verify_ledger(world["root"] / "L.db", [world["key"]], checkpoint=resized).findings
    assert any(f.seq is None and "checkpoint signature does not verify" in f.problem for f in findings)
    foreign = verify_ledger(world["root"] / "L.db", [world["other"]], checkpoint=world["note"])
    assert any("checkpoint signature does not verify" in f.problem for f in foreign.findings)


def test_a_note_signed_by_a_rotated_in_key_is_trusted_and_a_strangers_is_not(tmp_path):
    root_key, new = generate_key(tmp_path / "root.key"), generate_key(tmp_path / "new.key")
    with Ledger(tmp_path / "rot.db") as ledger:
        ledger.append("dataset", subject("d"), key=root_key)
        ledger.rotate_key(new, key=root_key)  # retires root_key after this entry
        ledger.append("model", subject("m"), parents=[subject("d")], key=new)
        by_new = make_checkpoint_note(ledger, new)
    assert verify_ledger(tmp_path / "rot.db", [root_key], checkpoint=by_new).ok
    stranger = generate_key(tmp_path / "stranger.key")
    with Ledger(tmp_path / "rot.db") as ledger:
        by_stranger = make_checkpoint_note(ledger, stranger)
    findings = verify_ledger(tmp_path / "rot.db", [root_key], checkpoint=by_stranger).findings
    assert [(f.seq, f.problem) for f in findings] == [(None, "checkpoint signature does not verify: no trusted key made its signature")]


def test_signed_note_rules_unknown_keys_ignored_known_bad_signature_rejects(world):
    key, other = world["key"], world["other"]
    note = sign_note("hello\n", "example.com/a", key)
    foreign = sign_note("hello\n", "example.com/b", other)
    both = SignedNote.parse(note.to_text() + foreign.signatures[0].line())
    assert [k.key_id for k in both.verified_by([key.public_key])] == [key.key_id]
    assert both.verified_by([SigningKey.from_seed(b"\x07" * 32).public_key]) == []
    assert SignedNote.parse(note.to_text().replace("hello", "hullo")).verified_by([key.public_key]) == []


@pytest.mark.parametrize(
    "bad",
    [
        "no blank line\n\u2014 a AAAAAAA=\n",
        "text\n\n- a AAAAAAAAAAAA\n",  # a hyphen, not an em dash
        "text\n\n\u2014 a AAAA\n",  # fewer than 5 signature bytes
        "text\n\n\u2014 a+b AAAAAAAAAAAA\n",  # '+' in the key name
        "te\x07xt\n\n\u2014 a AAAAAAAAAAAA\n",  # a control character
        "text\n\n\u2014 a AAAAAAAAAAAA",  # no final newline
    ],
)
def test_malformed_notes_are_refused_with_a_note_error(bad, tmp_path):
    with pytest.raises(NoteError):
        SignedNote.parse(bad)
    (tmp_path / "bad.note").write_text(bad, encoding="utf-8")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "bad.note")


def test_verifier_keys_round_trip_and_a_wrong_hash_is_refused(world):
    vkey = verifier_key("example.com/log", world["key"].public_key)
    name, key = parse_verifier_key(vkey)
    assert name == "example.com/log" and key.key_id == world["key"].key_id
    assert vkey.split("+")[1] == f"{note_key_id('example.com/log', key):08x}"
    with pytest.raises(NoteError, match="key ID"):
        parse_verifier_key(vkey.replace("example.com/log", "example.com/other"))


def test_cli_writes_a_note_checkpoint_that_verify_and_verify_proof_read(world, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    env.pop("PROVENANCE_PASSPHRASE", None)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "provenance.cli", *map(str, args)], capture_output=True, text=True, timeout=120, env=env)

    root = world["root"]
    made = cli("checkpoint", "--ledger", root / "L.db", "--key", root / "ci.key", "-o", tmp_path / "cp.note", "--format", "note", "--origin", "example.com/ci")
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[1] == "verifier key: " + verifier_key("example.com/ci", world["key"].public_key)
    assert cli("verify", root / "L.db", "--key", root / "ci.key.pub", "--checkpoint", tmp_path / "cp.note").returncode == 0
    assert cli("prove", root / "L.db", world["entries"][3].entry_hash, "--checkpoint", tmp_path / "cp.note", "-o", tmp_path / "p.json").returncode == 0
    assert cli("verify-proof", tmp_path / "p.json", "--checkpoint", tmp_path / "cp.note", "--key", root / "ci.key.pub").returncode == 0
    assert cli("verify-proof", tmp_path / "p.json", "--checkpoint", tmp_path / "cp.note", "--key", root / "other.key.pub").returncode == 1
    bad = cli("checkpoint", "--ledger", root / "L.db", "--key", root / "ci.key", "-o", tmp_path / "x.note", "--format", "note", "--origin", "a b")
    assert bad.returncode == 2 and "key name" in bad.stderr and not (tmp_path / "x.note").exists()


# --- the same notes, read and written by Go's reference implementation ---------------------------


@pytest.fixture(scope="module")
def notecheck(tmp_path_factory):
    """Go's sumdb/note and sumdb/tlog, built into a small checker from c2sp_notecheck/main.go."""
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        pytest.skip("Go or golang.org/x/mod missing; install with: apt-get install golang-go golang-golang-x-mod-dev")
    out = tmp_path_factory.mktemp("go")
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOCACHE=str(out / "cache"), GOFLAGS="")
    built = subprocess.run([go, "build", "-o", str(out / "notecheck"), str(GO_SOURCE)], capture_output=True, text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    return out / "notecheck"


def run_go(notecheck, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(notecheck), *map(str, args)], capture_output=True, text=True, timeout=60)


def leaves_file(path: Path, digests: list[str]) -> Path:
    path.write_text("".join(d.split(":", 1)[1] + "\n" for d in digests))
    return path


def test_go_opens_our_note_recomputes_its_root_and_checks_our_inclusion_proof(world, notecheck, tmp_path):
    vkey = verifier_key(world["note"].origin, world["key"].public_key)
    hashes = [e.entry_hash for e in world["entries"]]
    with Ledger(world["root"] / "L.db") as ledger:
        proof = prove(ledger, hashes[5], world["note"])
    (tmp_path / "p.json").write_text(json.dumps(proof.to_dict()))
    checked = run_go(notecheck, vkey, world["root"] / "cp.note", leaves_file(tmp_path / "leaves", hashes), tmp_path / "p.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = json.loads(checked.stdout)
    assert summary == {
        "origin": world["note"].origin,
        "size": N,
        "root": world["note"].root[7:],
        "signer": world["note"].origin,
        "leaves_match_root": True,
        "proof_verified": True,
    }


def test_go_rejects_a_tampered_note_a_foreign_signer_changed_leaves_and_a_moved_proof(world, notecheck, tmp_path):
    origin, key, other = world["note"].origin, world["key"], world["other"]
    vkey = verifier_key(origin, key.public_key)
    text = (world["root"] / "cp.note").read_text(encoding="utf-8")
    (tmp_path / "resized.note").write_text(text.replace(f"\n{N}\n", f"\n{N + 1}\n", 1), encoding="utf-8")
    (tmp_path / "foreign.note").write_text(sign_note(world["note"].note.text, origin, other).to_text(), encoding="utf-8")
    for forged in ("resized.note", "foreign.note"):
        proc = run_go(notecheck, vkey, tmp_path / forged)
        assert proc.returncode == 1 and proc.stdout.startswith("REJECTED: note.Open"), proc.stdout + proc.stderr

    hashes = [e.entry_hash for e in world["entries"]]
    changed = [*hashes[:3], subject("other entry"), *hashes[4:]]
    proc = run_go(notecheck, vkey, world["root"] / "cp.note", leaves_file(tmp_path / "changed", changed))
    assert proc.returncode == 1 and "tlog.TreeHash" in proc.stdout

    with Ledger(world["root"] / "L.db") as ledger:
        moved = prove(ledger, hashes[5], world["note"]).to_dict() | {"index": 4}
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    proc = run_go(notecheck, vkey, world["root"] / "cp.note", leaves_file(tmp_path / "leaves", hashes), tmp_path / "moved.json")
    assert proc.returncode == 1 and "tlog.CheckRecord" in proc.stdout


def test_a_note_go_signs_with_our_key_verifies_with_our_code(world, notecheck, tmp_path):
    key, name = world["key"], "example.com/go-signed"
    seed = key.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    encoded = base64.b64encode(bytes([0x01]) + seed).decode()  # 0x01: the Ed25519 signature type
    skey = f"PRIVATE+KEY+{name}+{note_key_id(name, key.public_key):08x}+{encoded}"
    (tmp_path / "text").write_text(world["note"].note.text.replace(world["note"].origin, name), encoding="utf-8")
    signed = run_go(notecheck, "-sign", skey, tmp_path / "text")
    assert signed.returncode == 0, signed.stderr
    note = SignedNote.parse(signed.stdout)
    assert [k.key_id for k in note.verified_by([key.public_key])] == [key.key_id]
    assert NoteCheckpoint.from_note(note).root == world["note"].root
    assert SignedNote.parse(signed.stdout.replace(f"\n{N}\n", f"\n{N - 1}\n")).verified_by([key.public_key]) == []
