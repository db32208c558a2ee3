"""Ed25519 keys: the RFC 8032 vector, key files, passphrases and clear errors."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from provenance.errors import ProvenanceKeyError
from provenance.keys import SigningKey, generate_key, key_id_of, load_key, load_public_key, load_public_keys

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_test_vector_1():
    key = SigningKey.from_seed(RFC8032_SECRET)
    assert key.public_key.raw == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIGNATURE
    assert key.public_key.verify(RFC8032_SIGNATURE, b"")
    assert not key.public_key.verify(RFC8032_SIGNATURE, b"x")
    assert key.key_id == key_id_of(RFC8032_PUBLIC) == "sha256:" + __import__("hashlib").sha256(RFC8032_PUBLIC).hexdigest()


def test_generate_writes_private_0600_and_public_and_loads_back(tmp_path):
    key = generate_key(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert load_key(tmp_path / "k").key_id == key.key_id
    assert load_public_key(tmp_path / "k.pub").key_id == key.key_id
    assert load_public_key(key.public_key.raw) == key.public_key


def test_generate_never_overwrites_and_reuses_a_matching_pair(tmp_path):
    """A second run of a script reuses its key (issue 23 #6); a lone or mismatched file is refused."""
    key = generate_key(tmp_path / "k")
    before = (tmp_path / "k").read_bytes(), (tmp_path / "k.pub").read_bytes()
    assert generate_key(tmp_path / "k").key_id == key.key_id
    assert ((tmp_path / "k").read_bytes(), (tmp_path / "k.pub").read_bytes()) == before
    (tmp_path / "k.pub").write_bytes(generate_key(tmp_path / "other").public_key.to_pem())
    with pytest.raises(ProvenanceKeyError, match="not one key pair"):
        generate_key(tmp_path / "k")
    (tmp_path / "k.pub").unlink()
    with pytest.raises(ProvenanceKeyError, match="already exists"):
        generate_key(tmp_path / "k")
    assert (tmp_path / "k").read_bytes() == before[0]


def test_passphrase_round_trip_and_wrong_or_missing_passphrase(tmp_path):
    key = generate_key(tmp_path / "k", passphrase="correct horse")
    assert b"ENCRYPTED" in (tmp_path / "k").read_bytes()
    assert load_key(tmp_path / "k", "correct horse").key_id == key.key_id
    with pytest.raises(ProvenanceKeyError, match="wrong passphrase"):
        load_key(tmp_path / "k", "wrong")
    with pytest.raises(ProvenanceKeyError, match="is encrypted"):
        load_key(tmp_path / "k")


def test_unencrypted_key_with_a_passphrase_says_so(tmp_path):
    generate_key(tmp_path / "k")
    with pytest.raises(ProvenanceKeyError, match="not encrypted"):
        load_key(tmp_path / "k", "pw")


def test_wrong_key_type_and_unreadable_files(tmp_path):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec").write_bytes(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "ec.pub").write_bytes(ec_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "junk").write_text("not a key")
    with pytest.raises(ProvenanceKeyError, match="not an Ed25519 key"):
        load_key(tmp_path / "ec")
    with pytest.raises(ProvenanceKeyError, match="not an Ed25519 public key"):
        load_public_key(tmp_path / "ec.pub")
    with pytest.raises(ProvenanceKeyError, match="not a PEM private key"):
        load_key(tmp_path / "junk")
    with pytest.raises(ProvenanceKeyError, match="not found"):
        load_key(tmp_path / "missing")


def test_a_folder_of_public_keys_is_a_trust_set(tmp_path):
    (tmp_path / "keys").mkdir()
    a, b = generate_key(tmp_path / "keys" / "a"), generate_key(tmp_path / "keys" / "b")
    assert set(load_public_keys([tmp_path / "keys"])) == {a.key_id, b.key_id}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProvenanceKeyError, match="no \\*.pub"):
        load_public_keys([tmp_path / "empty"])
