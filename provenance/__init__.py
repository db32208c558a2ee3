"""Provenance: content hashes, Ed25519 keys and a hash-chained, signed lineage ledger.

This package imports nothing from ``hybrid`` or ``auto_search`` and never torch, scikit-learn
or numpy at import time, so the verifier installs light and starts fast. Names below are
loaded on first use (PEP 562), so ``provenance --help`` pays for none of them.

    from provenance import Ledger, generate_key, verify_ledger
    key = generate_key("ci.key")
    with Ledger("lineage.db") as ledger:
        ledger.append("dataset", hash_file("data.npz"), key=key)
    assert verify_ledger("lineage.db", ["ci.key.pub"]).ok
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "canonical_json": "hashing",
    "hash_array": "hashing",
    "hash_bytes": "hashing",
    "hash_dir": "hashing",
    "hash_file": "hashing",
    "hash_json": "hashing",
    "ProvenanceError": "errors",
    "HashingError": "errors",
    "ProvenanceKeyError": "errors",
    "LedgerError": "errors",
    "CheckpointError": "errors",
    "NoteError": "errors",
    "SigningKey": "keys",
    "PublicKey": "keys",
    "generate_key": "keys",
    "load_key": "keys",
    "load_public_key": "keys",
    "load_public_keys": "keys",
    "key_id_of": "keys",
    "Ledger": "ledger",
    "Entry": "ledger",
    "KINDS": "ledger",
    "Checkpoint": "checkpoint",
    "InclusionProof": "checkpoint",
    "make_checkpoint": "checkpoint",
    "prove": "checkpoint",
    "NoteCheckpoint": "checkpoint",
    "make_checkpoint_note": "checkpoint",
    "load_checkpoint": "checkpoint",
    "SignedNote": "note",
    "sign_note": "note",
    "verifier_key": "note",
    "parse_verifier_key": "note",
    "merkle_root": "merkle",
    "verify_inclusion": "merkle",
    "verify_ledger": "verify",
    "VerificationResult": "verify",
    "Finding": "verify",
    "lineage_graph": "lineage",
    "ancestors": "lineage",
    "descendants": "lineage",
    "to_dot": "lineage",
    "statement": "intoto",
    "envelope": "intoto",
    "verify_envelope": "intoto",
    "export_in_toto": "intoto",
    "file_kind": "file_kinds",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'provenance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"provenance.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
