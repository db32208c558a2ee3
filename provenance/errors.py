"""The provenance error family: catch ``ProvenanceError`` to catch them all.

    ProvenanceError
    ├── HashingError (also ValueError, TypeError)  a value has no canonical form (NaN, odd key or type)
    ├── ProvenanceKeyError                 key file missing, unreadable, wrong type or passphrase
    ├── LedgerError                        not a ledger, bad entry, unknown kind or reference
    └── CheckpointError                    checkpoint or proof file unreadable or malformed
        └── NoteError                      signed note, key name or verifier key malformed

Verification problems are *findings* in a ``VerificationResult``, not exceptions: a verifier
reports every problem it sees instead of stopping at the first. Messages name what was wrong,
where, and what to do about it, in one line, so the CLI can print them as they are.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class of every error raised by ``provenance``."""


class HashingError(ProvenanceError, ValueError, TypeError):
    """A value cannot be hashed canonically (NaN, infinity, non-string key, unknown type, object array)."""


class ProvenanceKeyError(ProvenanceError):
    """A signing or public key could not be written, read, decrypted or used."""


class LedgerError(ProvenanceError):
    """A ledger file cannot be opened as a ledger, or an entry is malformed."""


class CheckpointError(ProvenanceError):
    """A checkpoint or an inclusion proof is unreadable, malformed or does not match."""


class NoteError(CheckpointError):
    """A signed note (c2sp.org/signed-note), a note key name or a verifier key is malformed."""
