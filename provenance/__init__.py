"""Provenance: content hashes, Ed25519 keys and a hash-chained, signed lineage ledger.

This package imports nothing from ``hybrid`` or ``auto_search`` and never torch or
scikit-learn, so the verifier installs light and starts fast.
"""

from provenance.hashing import canonical_json, hash_array, hash_bytes, hash_dir, hash_file, hash_json

__all__ = ["canonical_json", "hash_array", "hash_bytes", "hash_dir", "hash_file", "hash_json"]
