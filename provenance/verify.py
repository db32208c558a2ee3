"""Verify a ledger: every entry hash, the chain, every signature, signer trust, checkpoints.

Verification reports every finding (each names its entry) instead of stopping at the first.
Signer keys are tracked by entry sequence, never by timestamps the signer controls: the
trusted root keys sign from seq 0; a key-rotation entry signed by a valid key admits the new
key from the next seq (and retires the signer when it says ``retire``); a revocation whose
subject is a key id stops that key from the next seq, any other revocation marks its subject
and every descendant revoked (listed, not a failure). With a trusted checkpoint the prefix it
covers is authenticated by its signed Merkle root: only hashes, chain and root are
recomputed there, and signatures are checked only after it and on rotations/revocations.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from provenance.checkpoint import Checkpoint
from provenance.errors import ProvenanceError
from provenance.hashing import hash_dir, hash_file
from provenance.keys import PathLike, PublicKey, SigningKey, load_public_keys
from provenance.ledger import GENESIS, Entry, connect
from provenance.merkle import root_from_leaf_hashes

_CONTROL_KINDS = (b'"kind":"key-rotation"', b'"kind":"revocation"')


@dataclass(frozen=True)
class Finding:
    """One problem, naming the entry (seq and entry hash; None when no entry applies)."""

    seq: int | None
    entry_hash: str | None
    problem: str

    def __str__(self) -> str:
        where = "ledger" if self.seq is None else f"entry {self.seq}"
        return f"{where}{f' ({self.entry_hash})' if self.entry_hash else ''}: {self.problem}"


@dataclass(frozen=True)
class VerificationResult:
    """What verification found. ``ok`` is True when there is no finding.

    ``revoked`` maps each revoked subject (and every descendant) to the seq of the revocation;
    ``lineage`` holds the entries of ``artifact`` and its ancestors, in seq order.
    """

    size: int
    findings: tuple[Finding, ...]
    revoked: dict[str, int] = field(default_factory=dict)
    lineage: tuple[Entry, ...] = ()
    signatures_checked: int = 0
    artifact_hash: str | None = None

    @property
    def ok(self) -> bool:
        """True when no finding was made."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as printed by ``provenance verify --json``."""
        return {"ok": self.ok, "size": self.size, "signatures_checked": self.signatures_checked,
                "findings": [vars(f) for f in self.findings], "revoked": self.revoked,
                "artifact_hash": self.artifact_hash, "lineage": [e.to_dict() for e in self.lineage]}


class _Signers:
    """Which key may sign at which seq: roots from 0, rotations and revocations after."""

    def __init__(self, roots: dict[str, PublicKey]) -> None:
        self.keys = dict(roots)
        self.since = {k: 0 for k in roots}
        self.until: dict[str, tuple[int, str]] = {}

    def valid(self, key_id: str, seq: int) -> tuple[PublicKey | None, str]:
        if key_id not in self.keys or seq < self.since[key_id]:
            return None, f"signed by untrusted key {key_id}"
        if key_id in self.until and seq > self.until[key_id][0]:
            return None, f"signed by key {key_id} after it was {self.until[key_id][1]} at entry {self.until[key_id][0]}"
        return self.keys[key_id], ""

    def apply(self, e: Entry, revoked: dict[str, int]) -> None:
        if e.kind == "key-rotation":
            new = PublicKey(bytes.fromhex(e.attrs["public_key"]))
            if new.key_id not in self.keys:
                self.keys[new.key_id], self.since[new.key_id] = new, e.seq + 1
            if e.attrs.get("retire", True):
                self.until.setdefault(e.key_id, (e.seq, "retired"))
        elif e.subject in self.keys:
            self.until.setdefault(e.subject, (e.seq, "revoked"))
        else:
            revoked.setdefault(e.subject, e.seq)


def _check_signatures(batch: Sequence[tuple[int, bytes, bytes, bytes]]) -> list[int]:
    """Seqs in ``batch`` (seq, raw public key, signature, message) whose signature fails; runs in workers."""
    keys: dict[bytes, PublicKey] = {}
    bad = []
    for seq, raw, signature, message in batch:
        key = keys.get(raw) or keys.setdefault(raw, PublicKey(raw))
        if not key.verify(signature, message):
            bad.append(seq)
    return bad


def _parallel_bad_signatures(pending: list[tuple[int, bytes, bytes, bytes]], jobs: int) -> list[int]:
    if jobs <= 1 or len(pending) < 256:
        return _check_signatures(pending)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    step = -(-len(pending) // (jobs * 4))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        return [s for part in pool.map(_check_signatures, [pending[i:i + step] for i in range(0, len(pending), step)]) for s in part]


def verify_ledger(path: PathLike, trusted_keys: Sequence[PathLike | bytes | PublicKey | SigningKey], *,
                  checkpoint: Checkpoint | PathLike | None = None, artifact: PathLike | None = None,
                  jobs: int = 1) -> VerificationResult:
    """Verify the ledger at ``path`` against ``trusted_keys`` (``.pub`` files, folders or key objects).

    ``checkpoint`` (a Checkpoint or its file) also checks truncation and forks; ``artifact``
    checks that the file's (or folder's) hash is recorded and not revoked and fills ``lineage``.
    ``jobs`` > 1 checks signatures in that many processes. Raises ProvenanceError only for
    unusable input (missing or foreign file, no trusted key); problems in the ledger are findings.
    """
    roots = load_public_keys(list(trusted_keys))
    if not roots:
        raise ProvenanceError("verify needs at least one trusted public key (--key KEYFILE.pub or --key DIR)")
    cp = Checkpoint.load(checkpoint) if checkpoint is not None and not isinstance(checkpoint, Checkpoint) else checkpoint
    findings: list[Finding] = []
    fast_until = 0
    if cp is not None and cp.key_id in roots:
        if cp.verify_signature(roots[cp.key_id]):
            fast_until = cp.size
        else:
            findings.append(Finding(None, None, f"checkpoint signature does not verify with key {cp.key_id}"))
    signers, revoked = _Signers(roots), {}
    pending: list[tuple[int, bytes, bytes, bytes]] = []
    leaves: list[bytes] = []
    expected, prev, cp_head = 0, GENESIS, None
    sha256 = hashlib.sha256
    conn = connect(path, create=False)
    conn.text_factory = bytes
    try:
        rows = conn.execute("SELECT seq, body, entry_hash, signature FROM entries ORDER BY seq")
        for seq, body, stored, signature in rows:
            digest = sha256(body).digest()
            entry_hash = "sha256:" + digest.hex()
            if seq != expected:
                findings.append(Finding(seq, entry_hash, f"seq {seq} follows {expected - 1}: entries are missing or reordered"))
            if stored != entry_hash.encode():
                findings.append(Finding(seq, entry_hash, f"stored entry_hash {stored[:71]!r} is not the hash of the stored body: row altered"))
            if cp is not None and seq < cp.size:
                leaves.append(sha256(b"\x00" + digest).digest())
                cp_head = entry_hash
            if seq < fast_until and not any(k in body for k in _CONTROL_KINDS):
                if b'"prev":"%s"' % prev.encode() not in body or b',"seq":%d,' % seq not in body:
                    findings.append(Finding(seq, entry_hash, "body does not continue the chain from the previous entry"))
            else:
                findings += _check_entry(seq, body, entry_hash, bytes(signature), prev, signers, revoked, pending, jobs)
            expected, prev = seq + 1, entry_hash
    except sqlite3.DatabaseError as exc:
        findings.append(Finding(expected, None, f"ledger rows unreadable from here on ({exc})"))
    finally:
        conn.close()
    size = expected
    checked = len(pending)
    findings += [Finding(s, None, "signature does not verify with its signer's key") for s in _parallel_bad_signatures(pending, jobs)]
    if cp is not None:
        findings += _against_checkpoint(cp, leaves, cp_head, signers, roots)
    entries: list[Entry] | None = None
    if revoked or artifact is not None:
        entries = _parse_all(path)
    lineage: tuple[Entry, ...] = ()
    artifact_hash = None
    if entries is not None:
        from provenance.lineage import descendants, lineage_graph, ancestors

        graph = lineage_graph(entries)
        for subject, seq in list(revoked.items()):
            for d in descendants(graph, subject):
                revoked.setdefault(d, seq)
        if artifact is not None:
            artifact_hash, lineage, found = _check_artifact(Path(artifact), entries, graph, revoked, ancestors)
            findings += found
    findings.sort(key=lambda f: (-1 if f.seq is None else f.seq))
    return VerificationResult(size, tuple(findings), revoked, lineage, checked, artifact_hash)


def _check_entry(seq: int, body: bytes, entry_hash: str, signature: bytes, prev: str, signers: _Signers,
                 revoked: dict[str, int], pending: list, jobs: int) -> list[Finding]:
    try:
        e = Entry.from_body(body, entry_hash, signature)
    except ProvenanceError as exc:
        return [Finding(seq, entry_hash, str(exc))]
    out = []
    if e.seq != seq:
        out.append(Finding(seq, entry_hash, f"body says seq {e.seq} but the row is seq {seq}: replayed or moved entry"))
    if e.prev != prev:
        out.append(Finding(seq, entry_hash, f"prev {e.prev} is not the previous entry's hash {prev}: chain broken"))
    key, why = signers.valid(e.key_id, seq)
    if key is None:
        return out + [Finding(seq, entry_hash, why)]
    message = entry_hash.encode("ascii")
    if e.kind in ("key-rotation", "revocation"):
        if not key.verify(signature, message):
            return out + [Finding(seq, entry_hash, f"{e.kind} signature does not verify with key {e.key_id}: ignored")]
        if not out:
            signers.apply(e, revoked)
    else:
        pending.append((seq, key.raw, signature, message))
    return out


def _against_checkpoint(cp: Checkpoint, leaves: list[bytes], head: str | None, signers: _Signers,
                        roots: dict[str, PublicKey]) -> list[Finding]:
    out = []
    if cp.key_id not in roots:
        key, why = signers.valid(cp.key_id, cp.size - 1)
        if key is None or not cp.verify_signature(key):
            out.append(Finding(None, None, f"checkpoint signature does not verify: {why or 'bad signature'}"))
    if len(leaves) < cp.size:
        return out + [Finding(cp.size - 1, cp.head, f"missing: the checkpoint records {cp.size} entries, the ledger holds {len(leaves)}: truncated")]
    root = "sha256:" + root_from_leaf_hashes(leaves).hex()
    if root != cp.root or (head is not None and head != cp.head):
        out.append(Finding(cp.size - 1, head, f"the first {cp.size} entries have Merkle root {root}, the checkpoint "
                                              f"signed {cp.root} with head {cp.head}: the ledger was forked or rewritten"))
    return out


def _parse_all(path: PathLike) -> list[Entry]:
    conn = connect(path, create=False)
    conn.text_factory = bytes
    try:
        out = []
        for body, entry_hash, signature in conn.execute("SELECT body, entry_hash, signature FROM entries ORDER BY seq"):
            try:
                out.append(Entry.from_body(body, "sha256:" + hashlib.sha256(body).hexdigest(), bytes(signature)))
            except ProvenanceError:
                continue  # already a finding of the main scan
        return out
    finally:
        conn.close()


def _check_artifact(artifact: Path, entries: list[Entry], graph: Any, revoked: dict[str, int], ancestors: Any):
    if not artifact.exists():
        raise ProvenanceError(f"artifact {artifact} not found; check the path")
    h = hash_dir(artifact) if artifact.is_dir() else hash_file(artifact)
    recorded = [e for e in entries if e.subject == h]
    if not recorded:
        return h, (), [Finding(None, None, f"artifact {artifact} ({h}) is not recorded in the ledger: its bytes changed or it was never recorded")]
    found = []
    if h in revoked:
        found.append(Finding(revoked[h], None, f"artifact {artifact} ({h}) is revoked by entry {revoked[h]} (itself or an ancestor)"))
    wanted = ancestors(graph, h) | {h}
    return h, tuple(e for e in entries if e.subject in wanted and e.kind != "revocation"), found

