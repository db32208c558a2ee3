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
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.checkpoint import Checkpoint, NoteCheckpoint, load_checkpoint
from provenance.errors import ProvenanceError
from provenance.hashing import hash_dir, hash_file
from provenance.keys import PathLike, PublicKey, SigningKey, load_public_keys
from provenance.ledger import GENESIS, Entry, connect
from provenance.merkle import root_from_leaf_hashes


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
        return {
            "ok": self.ok,
            "size": self.size,
            "signatures_checked": self.signatures_checked,
            "findings": [vars(f) for f in self.findings],
            "revoked": self.revoked,
            "artifact_hash": self.artifact_hash,
            "lineage": [e.to_dict() for e in self.lineage],
        }


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


def _check_signatures(batch: Sequence[tuple[int, bytes, bytes, bytes]]) -> list[tuple[int, str]]:
    """(seq, entry hash) of rows in ``batch`` (seq, raw public key, signature, message) whose signature fails; runs in workers.

    The signed message is the entry hash's ASCII text, so it names the entry in the finding."""
    keys: dict[bytes, PublicKey] = {}
    bad = []
    for seq, raw, signature, message in batch:
        key = keys.get(raw) or keys.setdefault(raw, PublicKey(raw))
        if not key.verify(signature, message):
            bad.append((seq, message.decode("ascii")))
    return bad


class _SignatureChecks:
    """Signature checks queued during the scan; with ``jobs`` > 1, chunks go to worker processes
    as soon as they fill, so checking overlaps with reading (Ed25519 verify is the bottleneck)."""

    CHUNK = 512

    def __init__(self, jobs: int) -> None:
        self.jobs, self.count = jobs, 0
        self.batch: list[tuple[int, bytes, bytes, bytes]] = []
        self.bad: list[tuple[int, str]] = []
        self.futures: list[Any] = []
        self.pool: ProcessPoolExecutor | None = None

    def add(self, seq: int, raw: bytes, signature: bytes, message: bytes) -> None:
        self.batch.append((seq, raw, signature, message))
        self.count += 1
        if len(self.batch) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.jobs > 1:
            if self.pool is None:
                fork = "fork" in multiprocessing.get_all_start_methods()
                self.pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork" if fork else None))
            self.futures.append(self.pool.submit(_check_signatures, self.batch))
        else:
            self.bad += _check_signatures(self.batch)
        self.batch = []

    def finish(self) -> list[tuple[int, str]]:
        """(seq, entry hash) of each entry whose signature failed, once every check is done."""
        if self.pool is None:
            self.jobs = 1  # too few entries to be worth starting processes
        self._flush()
        for future in self.futures:
            self.bad += future.result()
        if self.pool is not None:
            self.pool.shutdown()
        return sorted(self.bad)


def verify_ledger(
    path: PathLike,
    trusted_keys: Sequence[PathLike | bytes | PublicKey | SigningKey],
    *,
    checkpoint: Checkpoint | NoteCheckpoint | PathLike | None = None,
    artifact: PathLike | None = None,
    jobs: int = 1,
) -> VerificationResult:
    """Verify the ledger at ``path`` against ``trusted_keys`` (``.pub`` files, folders or key objects).

    ``checkpoint`` (a checkpoint, JSON or tlog note, or its file) also checks truncation and forks; ``artifact``
    checks that the file's (or folder's) hash is recorded and not revoked and fills ``lineage``.
    ``jobs`` > 1 checks signatures in that many processes. Raises ProvenanceError only for
    unusable input (missing or foreign file, no trusted key); problems in the ledger are findings.
    """
    roots = load_public_keys(list(trusted_keys))
    if not roots:
        raise ProvenanceError("verify needs at least one trusted public key (--key KEYFILE.pub or --key DIR)")
    cp = load_checkpoint(checkpoint) if checkpoint is not None and not isinstance(checkpoint, (Checkpoint, NoteCheckpoint)) else checkpoint
    if artifact is not None and not Path(artifact).exists():
        raise ProvenanceError(f"artifact {artifact} not found; check the path")
    scan = _Scan(roots, jobs)
    root_signer = cp.signed_by(roots) if cp is not None else None
    trusted_checkpoint = False
    if cp is not None and root_signer is not None:
        trusted_checkpoint, scan.fast_until = True, cp.size
    scan.run(path, cp.size if cp is not None else 0)
    if cp is not None and root_signer is not None and scan.signers.valid(root_signer, cp.size - 1)[0] is None:
        # a root key retired (or revoked) inside the checkpoint's range cannot vouch for the entries
        # after that: check every signature after all, and let the checkpoint's signer be a finding
        trusted_checkpoint, scan = False, _Scan(roots, jobs)
        scan.run(path, cp.size)
    findings = scan.findings
    findings += [Finding(s, h, "signature does not verify with its signer's key") for s, h in scan.checks.finish()]
    if cp is not None:
        findings += _against_checkpoint(cp, scan.digests, scan.signers, trusted_checkpoint)
    revoked, lineage, artifact_hash = scan.revoked, (), None
    if revoked or artifact is not None:
        from provenance.lineage import ancestors, descendants, lineage_graph

        entries = _parse_all(path)
        graph = lineage_graph(entries)
        for subject, seq in list(revoked.items()):
            for d in descendants(graph, subject):
                revoked.setdefault(d, seq)
        if artifact is not None:
            artifact_hash, lineage, found = _check_artifact(Path(artifact), entries, graph, revoked, ancestors)
            findings += found
    findings.sort(key=lambda f: -1 if f.seq is None else f.seq)
    return VerificationResult(scan.expected, tuple(findings), revoked, lineage, scan.checks.count, artifact_hash)


class _Scan:
    """One ordered pass over the rows: hashes, chain, signer validity; signatures queued."""

    def __init__(self, roots: dict[str, PublicKey], jobs: int) -> None:
        self.signers, self.checks = _Signers(roots), _SignatureChecks(jobs)
        self.findings: list[Finding] = []
        self.revoked: dict[str, int] = {}
        self.digests: list[bytes] = []  # entry digests of the rows a checkpoint covers
        self.fast_until, self.expected, self.prev_hex = 0, 0, GENESIS[7:].encode()

    def run(self, path: PathLike, covered: int) -> None:
        conn = connect(path, create=False)
        conn.text_factory = bytes
        try:
            self._fast(conn)
            rows = conn.execute("SELECT seq, body, entry_hash, signature FROM entries WHERE seq >= ? ORDER BY seq", (self.fast_until,))
            self._full(rows, covered)
        except sqlite3.DatabaseError as exc:
            self.findings.append(Finding(self.expected, None, f"ledger rows unreadable from here on ({exc})"))
        finally:
            conn.close()

    def _row(self, seq: int, digest: bytes, stored: bytes) -> tuple[bytes, str]:
        hexd = digest.hex().encode()
        if seq != self.expected:
            self.findings.append(Finding(seq, "sha256:" + hexd.decode(), f"seq {seq} follows {self.expected - 1}: entries are missing or reordered"))
        if stored[7:] != hexd or stored[:7] != b"sha256:":
            self.findings.append(Finding(seq, "sha256:" + hexd.decode(), f"stored entry_hash {stored[:71]!r} is not the hash of the stored body: row altered"))
        return hexd, "sha256:" + hexd.decode()

    def _fast(self, conn: sqlite3.Connection) -> None:
        """Rows under a trusted checkpoint: its signed Merkle root vouches for the bodies, so no signatures.

        The hot loop of checkpointed verification: locals only, no JSON parsing. In canonical JSON
        the top-level ``prev`` is the last ``"prev":"`` (later fields hold no unescaped quotes).
        """
        sha256, digests, expected, prev_hex = hashlib.sha256, self.digests, self.expected, self.prev_hex
        rows = conn.execute("SELECT seq, body, entry_hash FROM entries WHERE seq < ? ORDER BY seq", (self.fast_until,))
        for seq, body, stored in rows:
            digest = sha256(body).digest()
            hexd = digest.hex().encode()
            if seq != expected or stored != b"sha256:" + hexd or b'"kind":"key-rotation"' in body or b'"kind":"revocation"' in body:
                (signature,) = conn.execute("SELECT signature FROM entries WHERE seq = ?", (seq,)).fetchone()
                self.expected, self.prev_hex = expected, prev_hex
                self._full([(seq, body, stored, signature)], self.fast_until)
                expected, prev_hex = self.expected, self.prev_hex
                continue
            at = body.rfind(b'"prev":"sha256:') + 15
            if body[at : at + 64] != prev_hex:
                self.findings.append(Finding(seq, "sha256:" + hexd.decode(), "prev does not name the previous entry: chain broken"))
            digests.append(digest)
            expected, prev_hex = seq + 1, hexd
        self.expected, self.prev_hex = expected, prev_hex

    def _full(self, rows: Any, covered: int) -> None:
        sha256 = hashlib.sha256
        for seq, body, stored, signature in rows:
            digest = sha256(body).digest()
            hexd, entry_hash = self._row(seq, digest, stored)
            if seq < covered:
                self.digests.append(digest)
            self.findings += _check_entry(seq, body, entry_hash, signature, "sha256:" + self.prev_hex.decode(), self)
            self.expected, self.prev_hex = seq + 1, hexd


def _check_entry(seq: int, body: bytes, entry_hash: str, signature: bytes, prev: str, scan: _Scan) -> list[Finding]:
    """Parse one entry and check seq, prev and signer; queue its signature (control entries: check now)."""
    try:
        e = Entry.from_body(body, entry_hash, signature)
    except ProvenanceError as exc:
        return [Finding(seq, entry_hash, str(exc))]
    out = []
    if e.seq != seq:
        out.append(Finding(seq, entry_hash, f"body says seq {e.seq} but the row is seq {seq}: replayed or moved entry"))
    if e.prev != prev:
        out.append(Finding(seq, entry_hash, f"prev {e.prev} is not the previous entry's hash {prev}: chain broken"))
    key, why = scan.signers.valid(e.key_id, seq)
    if key is None:
        return [*out, Finding(seq, entry_hash, why)]
    message = entry_hash.encode("ascii")
    if e.kind in ("key-rotation", "revocation"):
        scan.checks.count += 1
        if not key.verify(signature, message):
            return [*out, Finding(seq, entry_hash, f"{e.kind} signature does not verify with key {e.key_id}: ignored")]
        try:
            if not out:
                scan.signers.apply(e, scan.revoked)
        except (KeyError, TypeError, ValueError, ProvenanceError) as exc:
            out.append(Finding(seq, entry_hash, f"malformed {e.kind} entry ignored ({type(exc).__name__}: {exc})"))
    else:
        scan.checks.add(seq, key.raw, bytes(signature), message)
    return out


def _against_checkpoint(cp: Checkpoint | NoteCheckpoint, digests: list[bytes], signers: _Signers, trusted: bool) -> list[Finding]:
    """Truncation, fork and signer checks of a checkpoint against the entry digests it covers.

    A checkpoint not signed by a root key may be signed by a key rotated in before its last entry."""
    out = []
    if not trusted:
        signer = cp.signed_by(signers.keys)
        named = f" (it names key {cp.key_id})" if isinstance(cp, Checkpoint) else ""
        key, why = signers.valid(signer, cp.size - 1) if signer else (None, f"no trusted key made its signature{named}")
        if key is None:
            out.append(Finding(None, None, f"checkpoint signature does not verify: {why}"))
    if len(digests) < cp.size:
        return [*out, Finding(cp.size - 1, cp.head, f"missing: the checkpoint records {cp.size} entries, the ledger holds {len(digests)}: truncated")]
    sha256 = hashlib.sha256
    root = "sha256:" + root_from_leaf_hashes([sha256(b"\x00" + d).digest() for d in digests]).hex()
    head = "sha256:" + digests[cp.size - 1].hex()
    if root != cp.root or (cp.head is not None and head != cp.head):
        signed_head = f" with head {cp.head}" if cp.head is not None else ""
        out.append(
            Finding(
                cp.size - 1,
                head,
                f"the first {cp.size} entries have Merkle root {root}, the checkpoint signed {cp.root}{signed_head}: the ledger was forked or rewritten",
            )
        )
    return out


def _parse_all(path: PathLike) -> list[Entry]:
    conn = connect(path, create=False)
    conn.text_factory = bytes
    try:
        out = []
        for body, _stored_hash, signature in conn.execute("SELECT body, entry_hash, signature FROM entries ORDER BY seq"):
            try:
                out.append(Entry.from_body(body, "sha256:" + hashlib.sha256(body).hexdigest(), bytes(signature)))
            except ProvenanceError:
                continue  # already a finding of the main scan
        return out
    finally:
        conn.close()


def _check_artifact(artifact: Path, entries: list[Entry], graph: Any, revoked: dict[str, int], ancestors: Any):
    """The artifact's hash, its lineage entries, and findings if it is unrecorded or revoked."""
    h = hash_dir(artifact) if artifact.is_dir() else hash_file(artifact)
    recorded = [e for e in entries if e.subject == h]
    if not recorded:
        return h, (), [Finding(None, None, f"artifact {artifact} ({h}) is not recorded in the ledger: its bytes changed or it was never recorded")]
    found = []
    if h in revoked:
        found.append(Finding(revoked[h], None, f"artifact {artifact} ({h}) is revoked by entry {revoked[h]} (itself or an ancestor)"))
    wanted = ancestors(graph, h) | {h}
    return h, tuple(e for e in entries if e.subject in wanted and e.kind != "revocation"), found
