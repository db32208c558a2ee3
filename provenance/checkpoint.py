"""Signed checkpoints (size, head hash, RFC 6962 Merkle root) and inclusion proofs.

A checkpoint is kept away from the ledger (another disk, a repository, a ticket). Verifying a
ledger against it catches truncation (fewer entries than it records) and forks (a different
head or root at its size), and lets the verifier trust the checkpointed prefix through the
signed root instead of re-checking every signature. An inclusion proof shows one entry is in
a checkpointed ledger with O(log n) hashes, offline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.errors import CheckpointError, LedgerError
from provenance.hashing import canonical_json
from provenance.keys import PathLike, PublicKey, SigningKey
from provenance.ledger import Ledger
from provenance.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes, verify_inclusion

CHECKPOINT_TYPE = "agent-distill/checkpoint/v1"
PROOF_TYPE = "agent-distill/inclusion-proof/v1"


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
        return canonical_json({"type": CHECKPOINT_TYPE, "size": self.size, "head": self.head, "root": self.root,
                               "key_id": self.key_id, "time": self.time})

    def verify_signature(self, key: PublicKey) -> bool:
        """True when ``key`` made this checkpoint's signature."""
        return key.key_id == self.key_id and key.verify(self.signature, self.statement())

    def save(self, path: PathLike) -> None:
        """Write the checkpoint as JSON to ``path``."""
        d = asdict(self) | {"type": CHECKPOINT_TYPE, "signature": self.signature.hex()}
        Path(path).write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: PathLike) -> "Checkpoint":
        """Read a checkpoint written by ``save``; CheckpointError when unreadable or malformed."""
        d = _read_json(path, "checkpoint", CHECKPOINT_TYPE)
        try:
            return cls(int(d["size"]), str(d["head"]), str(d["root"]), str(d["key_id"]), str(d["time"]),
                       bytes.fromhex(d["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} is malformed ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class InclusionProof:
    """Proof that ``entry_hash`` is leaf ``index`` of the ``size``-entry tree with ``root``."""

    entry_hash: str
    index: int
    size: int
    root: str
    path: tuple[str, ...]

    def verify(self, checkpoint: Checkpoint | None = None) -> bool:
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
        return {"type": PROOF_TYPE, "entry_hash": self.entry_hash, "index": self.index, "size": self.size,
                "root": self.root, "path": list(self.path)}

    @classmethod
    def load(cls, path: PathLike) -> "InclusionProof":
        """Read a proof written by ``provenance prove -o``."""
        d = _read_json(path, "proof", PROOF_TYPE)
        try:
            return cls(str(d["entry_hash"]), int(d["index"]), int(d["size"]), str(d["root"]), tuple(map(str, d["path"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"proof {path} is malformed ({type(exc).__name__}: {exc})") from exc


def make_checkpoint(ledger: Ledger, key: SigningKey) -> Checkpoint:
    """Sign the ledger's current size, head and Merkle root (run ``verify`` first: it commits to what is there)."""
    hashes = ledger.entry_hashes()
    if not hashes:
        raise LedgerError(f"ledger {ledger.path} is empty; a checkpoint needs at least one entry")
    root = "sha256:" + root_from_leaf_hashes([leaf_hash(_digest(h)) for h in hashes]).hex()
    time = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    unsigned = Checkpoint(len(hashes), hashes[-1], root, key.key_id, time, b"")
    return Checkpoint(unsigned.size, unsigned.head, root, key.key_id, time, key.sign(unsigned.statement()))


def prove(ledger: Ledger, entry_hash: str, checkpoint: Checkpoint) -> InclusionProof:
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
