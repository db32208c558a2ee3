"""The attestations ``provenance export --in-toto`` writes, checked by code we did not write.

securesystemslib's DSSE ``Envelope.verify`` and in-toto's ``Metadata.load`` +
``verify_signature`` check the Ed25519 signature over DSSE's PAE; the in-toto attestation
framework's own protobuf schema and ``Statement.validate`` check the Statement v1 layout.
Every acceptance is paired with a tampered attestation that the same third-party code rejects.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _prov_helpers import subject
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto.exceptions import SignatureVerificationError
from in_toto.models.metadata import Envelope as InTotoEnvelope
from in_toto.models.metadata import Metadata
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from provenance.errors import ProvenanceError
from provenance.intoto import PAYLOAD_TYPE, verify_envelope
from provenance.keys import SigningKey, load_key, load_public_key
from provenance.ledger import Ledger

WORKTREE = Path(__file__).resolve().parents[2]


def run_cli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    env.pop("PROVENANCE_PASSPHRASE", None)
    return subprocess.run([sys.executable, "-m", "provenance.cli", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A ledger with dataset → search → model written and exported by the real CLI: (folder, envelope path)."""
    d = tmp_path_factory.mktemp("dsse")
    assert run_cli("keygen", "ci.key", cwd=d).returncode == 0
    key = load_key(d / "ci.key")
    with Ledger(d / "L.db") as ledger:
        ledger.append_many(
            [
                {"kind": "dataset", "subject": subject("data")},
                {"kind": "search", "subject": subject("search"), "parents": [subject("data")], "attrs": {"config": {"seed": 0, "max_epochs": 30}}},
                {"kind": "model", "subject": subject("model"), "parents": [subject("search")], "attrs": {"name": "model.json", "family": "tree"}},
            ],
            key=key,
        )
    proc = run_cli("export", "L.db", "--in-toto", "att", "--key", "ci.key", cwd=d)
    assert proc.returncode == 0, proc.stderr
    (path,) = sorted((d / "att").glob("*.intoto.json"))
    return d, path


def third_party_key(pub_pem: Path) -> SSlibKey:
    """The trusted key as securesystemslib holds it; the DSSE keyid is our ``sha256:`` + SHA-256 of the raw key."""
    key_id = load_public_key(pub_pem).key_id
    return SSlibKey.from_crypto(load_pem_public_key(pub_pem.read_bytes()), keyid=key_id, scheme="ed25519")


def tampered_payload(env: dict, old: bytes, new: bytes) -> dict:
    payload = base64.b64decode(env["payload"])
    assert old in payload
    return dict(env, payload=base64.b64encode(payload.replace(old, new)).decode())


def test_securesystemslib_dsse_accepts_the_export_and_rejects_tampering(exported):
    d, path = exported
    env = json.loads(path.read_text())
    key = third_party_key(d / "ci.key.pub")
    accepted = Envelope.from_dict(copy.deepcopy(env)).verify([key], threshold=1)
    assert list(accepted) == [key.keyid]

    changed_family = tampered_payload(env, b'"family":"tree"', b'"family":"mlp!"')
    retyped = dict(env, payloadType="application/json")  # PAE covers the payload type too
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[10] ^= 1
    flipped = dict(env, signatures=[{"keyid": key.keyid, "sig": base64.b64encode(bytes(sig)).decode()}])
    for forged in (changed_family, retyped, flipped):
        with pytest.raises(VerificationError):
            Envelope.from_dict(copy.deepcopy(forged)).verify([key], threshold=1)


def test_securesystemslib_rejects_an_attacker_resigning_under_our_key_id(exported):
    d, path = exported
    env = json.loads(path.read_text())
    key = third_party_key(d / "ci.key.pub")
    forged = Envelope.from_dict(copy.deepcopy(tampered_payload(env, b'"family":"tree"', b'"family":"mlp!"')))
    attacker = Ed25519PrivateKey.generate()
    forged.signatures = {}
    forged_sig = CryptoSigner(attacker, SSlibKey.from_crypto(attacker.public_key(), keyid=key.keyid)).sign(forged.pae())
    forged.signatures[key.keyid] = forged_sig
    with pytest.raises(VerificationError):
        forged.verify([key], threshold=1)
    with pytest.raises(ProvenanceError, match="no valid signature"):  # our verifier agrees
        verify_envelope(forged.to_dict(), load_public_key(d / "ci.key.pub"))


def test_in_toto_loads_and_verifies_the_exported_file_and_rejects_a_tampered_copy(exported, tmp_path):
    d, path = exported
    key = third_party_key(d / "ci.key.pub")
    key_dict = key.to_dict() | {"keyid": key.keyid}
    metadata = Metadata.load(str(path))
    assert isinstance(metadata, InTotoEnvelope) and metadata.payload_type == PAYLOAD_TYPE
    metadata.verify_signature(key_dict)

    forged_path = tmp_path / path.name
    forged_path.write_text(json.dumps(tampered_payload(json.loads(path.read_text()), b'"seq":2', b'"seq":9')))
    with pytest.raises(SignatureVerificationError):
        Metadata.load(str(forged_path)).verify_signature(key_dict)


def test_the_statement_passes_the_in_toto_attestation_schema_and_a_broken_one_fails(exported):
    _, path = exported
    payload = base64.b64decode(json.loads(path.read_text())["payload"])
    proto = json_format.Parse(payload, statement_pb2.Statement())  # strict: unknown fields are refused
    Statement.copy_from_pb(proto).validate()
    assert proto.subject[0].digest["sha256"] == subject("model").split(":")[1]

    no_digest = json.loads(payload)
    no_digest["subject"] = [{"uri": "model.json"}]
    with pytest.raises(ValueError, match="digest"):
        Statement.copy_from_pb(json_format.Parse(json.dumps(no_digest), statement_pb2.Statement())).validate()
    with pytest.raises(json_format.ParseError):
        json_format.Parse(json.dumps(json.loads(payload) | {"subjects": []}), statement_pb2.Statement())


def test_our_verifier_accepts_an_envelope_signed_by_securesystemslib(exported):
    """Interoperation the other way: their signer, our verifier; and a changed payload still fails ours."""
    _, path = exported
    private = Ed25519PrivateKey.generate()
    ours = SigningKey(private)
    env = Envelope(base64.b64decode(json.loads(path.read_text())["payload"]), PAYLOAD_TYPE, {})
    env.sign(CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), keyid=ours.key_id)))
    statement = verify_envelope(env.to_dict(), ours.public_key)
    assert statement["subject"][0]["name"] == "model.json"
    with pytest.raises(ProvenanceError, match="no valid signature"):
        verify_envelope(tampered_payload(env.to_dict(), b"model.json", b"model.JSON"), ours.public_key)
