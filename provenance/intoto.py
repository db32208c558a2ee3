"""Export model entries as in-toto Statement v1 inside DSSE envelopes, for supply-chain tools.

The envelope is signed with the ledger's Ed25519 key over DSSE's pre-authentication encoding
(PAE). securesystemslib's and in-toto's DSSE verifiers accept it in our tests, given the key
under our key id (``sha256:`` + SHA-256 of the raw public key), which the signature's ``keyid``
names; other in-toto readers (in-toto-golang, cosign) are untested.
in-toto digests are bare hex under the algorithm name: ``{"sha256": "…"}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.hashing import canonical_json
from provenance.keys import PathLike, PublicKey, SigningKey
from provenance.ledger import Entry

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://agent-distill.dev/provenance/lineage/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _descriptor(prefixed: str) -> dict[str, Any]:
    algorithm, _, hexdigest = prefixed.partition(":")
    return {"name": prefixed, "digest": {algorithm: hexdigest}}


def statement(entry: Entry) -> dict[str, Any]:
    """The in-toto Statement v1 for one entry: its subject, parents as resolved dependencies."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [_descriptor(entry.subject) | {"name": entry.attrs.get("name", entry.subject)}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "kind": entry.kind,
            "attrs": entry.attrs,
            "parents": [_descriptor(p) for p in entry.parents],
            "ledger": {"seq": entry.seq, "entry_hash": entry.entry_hash, "time": entry.time, "key_id": entry.key_id},
        },
    }


def envelope(entry: Entry, key: SigningKey) -> dict[str, Any]:
    """A DSSE envelope holding ``statement(entry)``, signed by ``key``."""
    payload = canonical_json(statement(entry))
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def verify_envelope(env: dict[str, Any], key: PublicKey) -> dict[str, Any]:
    """The statement of ``env`` when ``key`` signed it; ProvenanceError otherwise."""
    try:
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in env["signatures"] if s.get("keyid") == key.key_id]
        ok = any(key.verify(sig, pae(env["payloadType"], payload)) for sig in sigs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProvenanceError(f"not a DSSE envelope ({type(exc).__name__}: {exc})") from exc
    if not ok:
        raise ProvenanceError(f"DSSE envelope carries no valid signature by key {key.key_id}")
    return json.loads(payload)


def export_in_toto(entries: Iterable[Entry], out_dir: PathLike, key: SigningKey, kinds: tuple[str, ...] = ("model",)) -> list[Path]:
    """Write one ``<seq>-<kind>.intoto.json`` envelope per entry of ``kinds`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for e in entries:
        if e.kind in kinds:
            path = out / f"{e.seq:08d}-{e.kind}.intoto.json"
            path.write_text(json.dumps(envelope(e, key), indent=2) + "\n")
            written.append(path)
    return written
