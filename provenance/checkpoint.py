"""Signed checkpoints (size, head hash, RFC 6962 Merkle root) and inclusion proofs.

A checkpoint is kept away from the ledger (another disk, a repository, a ticket). Verifying a
ledger against it catches truncation (fewer entries than it records) and forks (a different
head or root at its size), and lets the verifier trust the checkpointed prefix through the
signed root instead of re-checking every signature. An inclusion proof shows one entry is in
a checkpointed ledger with O(log n) hashes, offline.

Two file formats carry the same tree head: our JSON (``Checkpoint``: size, head, root, key id,
time, signature over canonical JSON) and a C2SP tlog-checkpoint signed note (``NoteCheckpoint``:
origin, size, base64 root, Ed25519 note signature), which transparency-log tooling reads. Both
commit to the RFC 6962 root whose leaves are the 32-byte entry digests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.errors import CheckpointError, LedgerError, NoteError
from provenance.hashing import canonical_json
from provenance.keys import PathLike, PublicKey, SigningKey
from provenance.ledger import Ledger
from provenance.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes, verify_inclusion
from provenance.note import SignedNote, check_key_name, sign_note

CHECKPOINT_TYPE = "agent-distill/checkpoint/v1"
PROOF_TYPE = "agent-distill/inclusion-proof/v1"
ORIGIN_PREFIX = "agent-distill.dev/ledger/"


def _digest(prefixed: str) -> bytes:
    return bytes.fromhex(prefixed.split(":", 1)[1])


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the ledger had ``size`` entries ending in ``head``, with Merkle ``root``."""

    size: int
    head: str
    root: str
    key_id: str
    time: str
    signature: bytes

    def statement(self) -> bytes:
        """The canonical JSON bytes that the signature covers."""
        return canonical_json({"type": CHECKPOINT_TYPE, "size": self.size, "head": self.head, "root": self.root, "key_id": self.key_id, "time": self.time})

    def verify_signature(self, key: PublicKey) -> bool:
        """True when ``key`` made this checkpoint's signature."""
        return key.key_id == self.key_id and key.verify(self.signature, self.statement())

    def signed_by(self, keys: Mapping[str, PublicKey]) -> str | None:
        """The id of the key among ``keys`` (by key id) that made this checkpoint's signature, or None."""
        key = keys.get(self.key_id)
        return self.key_id if key is not None and self.verify_signature(key) else None

    def save(self, path: PathLike) -> None:
        """Write the checkpoint as JSON to ``path``."""
        d = asdict(self) | {"type": CHECKPOINT_TYPE, "signature": self.signature.hex()}
        Path(path).write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: PathLike) -> Checkpoint:
        """Read a checkpoint written by ``save``; CheckpointError when unreadable or malformed."""
        d = _read_json(path, "checkpoint", CHECKPOINT_TYPE)
        try:
            return cls(int(d["size"]), str(d["head"]), str(d["root"]), str(d["key_id"]), str(d["time"]), bytes.fromhex(d["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} is malformed ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class NoteCheckpoint:
    """A checkpoint as a C2SP tlog-checkpoint: the signed note ``origin``, ``size``, base64 root.

    The note carries no head and no time: the root commits to the head (the last leaf), and
    the log format has no time line. ``root`` is ``sha256:`` + hex, as in ``Checkpoint``.
    """

    origin: str
    size: int
    root: str
    note: SignedNote

    head = None  # not in the note; verification compares the root only

    def signed_by(self, keys: Mapping[str, PublicKey]) -> str | None:
        """The id of a key among ``keys`` whose note signature verifies (none may fail), or None."""
        verified = self.note.verified_by(keys.values())
        return verified[0].key_id if verified else None

    def to_text(self) -> str:
        """The signed note, as ``save`` writes it."""
        return self.note.to_text()

    def save(self, path: PathLike) -> None:
        """Write the signed note to ``path``."""
        Path(path).write_text(self.to_text(), encoding="utf-8")

    @classmethod
    def from_note(cls, note: SignedNote, where: str = "note") -> NoteCheckpoint:
        """Read origin, tree size and root hash from a signed note's text; CheckpointError when they are malformed.

        Extension lines after the root are allowed by c2sp.org/tlog-checkpoint and ignored here.
        """
        lines = note.text.split("\n")[:-1]
        if len(lines) < 3 or not all(lines):
            raise CheckpointError(f"{where} is not a tlog checkpoint: it needs non-empty origin, size and root hash lines")
        origin, size, root = lines[:3]
        if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(f"{where}: tree size {size!r} is not a decimal number without leading zeros")
        try:
            digest = base64.b64decode(root, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            digest = b""
        if len(digest) != 32:
            raise CheckpointError(f"{where}: root hash {root!r} is not the base64 of 32 bytes")
        return cls(origin, int(size), "sha256:" + digest.hex(), note)

    @classmethod
    def load(cls, path: PathLike) -> NoteCheckpoint:
        """Read a checkpoint note written by ``save`` (or by a transparency log in the same format)."""
        return cls.from_note(SignedNote.parse(_read_bytes(path, "checkpoint")), f"checkpoint {path}")


@dataclass(frozen=True)
class InclusionProof:
    """Proof that ``entry_hash`` is leaf ``index`` of the ``size``-entry tree with ``root``."""

    entry_hash: str
    index: int
    size: int
    root: str
    path: tuple[str, ...]

    def verify(self, checkpoint: Checkpoint | NoteCheckpoint | None = None) -> bool:
        """Recompute the root from the path (RFC 9162 2.1.3.2); also match ``checkpoint`` if given."""
        if checkpoint is not None and (checkpoint.size != self.size or checkpoint.root != self.root):
            return False
        try:
            path = [bytes.fromhex(p) for p in self.path]
            leaf, root = leaf_hash(_digest(self.entry_hash)), _digest(self.root)
        except (ValueError, IndexError):
            return False
        return verify_inclusion(leaf, self.index, self.size, path, root)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as written by ``provenance prove``."""
        return {"type": PROOF_TYPE, "entry_hash": self.entry_hash, "index": self.index, "size": self.size, "root": self.root, "path": list(self.path)}

    @classmethod
    def load(cls, path: PathLike) -> InclusionProof:
        """Read a proof written by ``provenance prove -o``."""
        d = _read_json(path, "proof", PROOF_TYPE)
        try:
            return cls(str(d["entry_hash"]), int(d["index"]), int(d["size"]), str(d["root"]), tuple(map(str, d["path"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"proof {path} is malformed ({type(exc).__name__}: {exc})") from exc


def _tree_head(ledger: Ledger) -> tuple[list[str], bytes]:
    """The ledger's entry hashes and the RFC 6962 root over their digests; LedgerError when empty."""
    hashes = ledger.entry_hashes()
    if not hashes:
        raise LedgerError(f"ledger {ledger.path} is empty; a checkpoint needs at least one entry")
    return hashes, root_from_leaf_hashes([leaf_hash(_digest(h)) for h in hashes])


def make_checkpoint(ledger: Ledger, key: SigningKey) -> Checkpoint:
    """Sign the ledger's current size, head and Merkle root (run ``verify`` first: it commits to what is there)."""
    hashes, root_bytes = _tree_head(ledger)
    root = "sha256:" + root_bytes.hex()
    time = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    unsigned = Checkpoint(len(hashes), hashes[-1], root, key.key_id, time, b"")
    return Checkpoint(unsigned.size, unsigned.head, root, key.key_id, time, key.sign(unsigned.statement()))


def make_checkpoint_note(ledger: Ledger, key: SigningKey, origin: str | None = None) -> NoteCheckpoint:
    """Sign the ledger's size and Merkle root as a C2SP tlog-checkpoint note; the key name is the origin.

    ``origin`` names the log and must be a valid note key name; by default it is
    ``agent-distill.dev/ledger/`` + the first 16 hex digits of entry 0's hash, which no other ledger shares.
    """
    hashes, root = _tree_head(ledger)
    origin = check_key_name(origin if origin is not None else ORIGIN_PREFIX + hashes[0].split(":", 1)[1][:16])
    text = f"{origin}\n{len(hashes)}\n{base64.b64encode(root).decode('ascii')}\n"
    return NoteCheckpoint(origin, len(hashes), "sha256:" + root.hex(), sign_note(text, origin, key))


def load_checkpoint(path: PathLike) -> Checkpoint | NoteCheckpoint:
    """Read a checkpoint file in either format: JSON (``Checkpoint``) or a tlog-checkpoint note."""
    data = _read_bytes(path, "checkpoint")
    if data.lstrip().startswith(b"{"):
        return Checkpoint.load(path)
    try:
        return NoteCheckpoint.from_note(SignedNote.parse(data), f"checkpoint {path}")
    except NoteError as exc:
        raise CheckpointError(f"checkpoint {path} is neither checkpoint JSON nor a signed note ({exc})") from None


def prove(ledger: Ledger, entry_hash: str, checkpoint: Checkpoint | NoteCheckpoint) -> InclusionProof:
    """Inclusion proof of ``entry_hash`` in the ledger prefix that ``checkpoint`` covers."""
    hashes = ledger.entry_hashes()[: checkpoint.size]
    if len(hashes) < checkpoint.size:
        raise CheckpointError(f"ledger holds {len(hashes)} entries, fewer than the checkpoint's {checkpoint.size}: truncated?")
    try:
        index = hashes.index(entry_hash)
    except ValueError:
        raise LedgerError(f"entry {entry_hash} is not among the first {checkpoint.size} entries the checkpoint covers") from None
    leaves = [leaf_hash(_digest(h)) for h in hashes]
    path = tuple(p.hex() for p in inclusion_proof(leaves, index))
    return InclusionProof(entry_hash, index, checkpoint.size, checkpoint.root, path)


def _read_bytes(path: PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{what} file {path} not found; check the path") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {what} file {path}: {exc.strerror}") from None


def _read_json(path: PathLike, what: str, expected_type: str) -> dict[str, Any]:
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{what} file {path} not found; check the path") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{what} file {path} is not readable JSON ({exc})") from None
    if not isinstance(d, dict) or d.get("type") != expected_type:
        raise CheckpointError(f"{path} is not a {what} (expected type {expected_type!r})")
    return d
