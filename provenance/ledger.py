"""The append-only, hash-chained, Ed25519-signed ledger: one SQLite file, no server.

Each row stores the exact bytes that were hashed and signed (``body``, canonical JSON of seq,
time, kind, subject, parents, attrs, prev and key_id), its ``entry_hash`` (``sha256:`` of the
body) and the Ed25519 ``signature`` of the entry hash's ASCII text. ``kind`` and ``subject``
are generated from the body, so they can never disagree with what was signed. ``seq`` is the
primary key; a trigger accepts only the next seq whose body names the current head as
``prev`` (a substring test on the canonical layout, cheaper than parsing; no UNIQUE index on the random hash: measured 7–12× slower batched appends), and
triggers refuse UPDATE and DELETE as defence in depth (verification does not rely on them).

Writers take the write lock with ``BEGIN IMMEDIATE`` and read the head inside the
transaction, so several processes never fork the chain; WAL with ``synchronous=FULL`` makes
each committed transaction durable. The standard library's sqlite3 is used instead of
sqlite-utils, whose import costs ~0.8 s (it pulls pandas and numpy).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.errors import LedgerError
from provenance.file_kinds import file_kind, wrong_kind
from provenance.hashing import canonical_json, hash_bytes
from provenance.keys import PathLike, PublicKey, SigningKey, key_id_of

KINDS = ("dataset", "teacher", "search", "model", "export", "key-rotation", "revocation", "note")
"""The kinds of ledger entry; an entry of any other kind is refused with a ``LedgerError``."""
GENESIS = "sha256:" + "0" * 64
FORMAT = "agent-distill-ledger"
VERSION = "1"
HASH_PATTERN = re.compile(r"[a-z0-9]+:[0-9a-f]{8,}")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO ledger_meta VALUES ('format', '{FORMAT}'), ('version', '{VERSION}');
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    signature BLOB NOT NULL,
    kind TEXT GENERATED ALWAYS AS (json_extract(body, '$.kind')) VIRTUAL,
    subject TEXT GENERATED ALWAYS AS (json_extract(body, '$.subject')) VIRTUAL
);
CREATE TRIGGER IF NOT EXISTS entries_chain BEFORE INSERT ON entries BEGIN
    SELECT RAISE(ABORT, 'ledger chain broken: an entry must take the next seq and name the head as prev')
    WHERE NEW.seq IS NOT coalesce((SELECT max(seq) FROM entries), -1) + 1
       OR instr(NEW.body, '"prev":"' || coalesce((SELECT entry_hash FROM entries WHERE seq = NEW.seq - 1), '{GENESIS}')
                          || '","seq":' || NEW.seq || ',') = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: DELETE refused');
END;
"""


@dataclass(frozen=True)
class Entry:
    """One ledger entry, as signed. ``body`` is the exact canonical JSON that was hashed."""

    seq: int
    time: str
    kind: str
    subject: str
    parents: tuple[str, ...]
    attrs: dict[str, Any]
    prev: str
    key_id: str
    entry_hash: str
    signature: bytes
    body: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_body(cls, body: bytes, entry_hash: str, signature: bytes) -> Entry:
        """Rebuild an entry from its stored bytes; raises LedgerError when they are not an entry."""
        try:
            d = json.loads(body)
            if not isinstance(d["seq"], int) or not isinstance(d["attrs"], dict) or not isinstance(d["parents"], list):
                raise TypeError("seq must be an integer, attrs an object and parents a list")
            return cls(
                d["seq"], d["time"], d["kind"], d["subject"], tuple(d["parents"]), d["attrs"], d["prev"], d["key_id"], entry_hash, bytes(signature), bytes(body)
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"entry body is not a ledger entry ({type(exc).__name__}: {exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (signature in hex) for ``provenance log --json`` and friends."""
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "subject": self.subject,
            "parents": list(self.parents),
            "attrs": self.attrs,
            "prev": self.prev,
            "key_id": self.key_id,
            "entry_hash": self.entry_hash,
            "signature": self.signature.hex(),
        }


def _ensure_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Switch the file to WAL (persistent: the first opener to get here does it). The switch
    needs a moment alone with the file and does not always wait on the busy timeout, so
    openers racing on a new ledger retry instead of failing."""
    for _ in range(200):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.05)
    raise LedgerError(f"{path} stayed locked by other writers for 10 s; retry when they are done")


def connect(path: PathLike, *, create: bool) -> sqlite3.Connection:
    """Open ``path`` as a ledger database (creating the schema when ``create``), or raise LedgerError."""
    path = Path(path)
    if not create and not path.is_file():
        raise LedgerError(f"ledger {path} not found; check the path (or create it with `provenance record`)")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"cannot open ledger {path}: {exc}") from exc
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "ledger_meta" not in tables:
            if tables or not create:
                kind = file_kind(path)
                if kind not in (None, "ledger", "sqlite"):
                    raise LedgerError(wrong_kind(path, kind, "a ledger command"))
                raise LedgerError(f"{path} is a SQLite file but not a provenance ledger (no ledger_meta table)")
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        _ensure_wal(conn, path)
        fmt = dict(conn.execute("SELECT name, value FROM ledger_meta"))
        if fmt.get("format") != FORMAT or fmt.get("version") != VERSION:
            raise LedgerError(f"{path} is ledger format {fmt.get('format')!r} v{fmt.get('version')}; this tool reads {FORMAT} v{VERSION}")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        kind = file_kind(path)
        if kind not in (None, "ledger", "sqlite"):
            raise LedgerError(wrong_kind(path, kind, "a ledger command")) from exc
        raise LedgerError(f"{path} is not a SQLite ledger ({exc}); check the path") from exc
    except LedgerError:
        conn.close()
        raise
    return conn


def _check_item(kind: str, subject: str, parents: Sequence[str], attrs: Mapping[str, Any]) -> None:
    if kind not in KINDS:
        raise LedgerError(f"unknown entry kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(subject, str) or not subject or (kind != "note" and not HASH_PATTERN.fullmatch(subject)):
        raise LedgerError(f"{kind} subject must be a prefixed hex hash such as 'sha256:…', got {subject!r}")
    for p in parents:
        if not isinstance(p, str) or not HASH_PATTERN.fullmatch(p):
            raise LedgerError(f"parent {p!r} of {subject} is not a prefixed hex hash such as 'sha256:…'")
    if not isinstance(attrs, Mapping):
        raise LedgerError(f"attrs of {subject} must be a JSON object (dict), got {type(attrs).__name__}")
    if kind == "key-rotation":
        try:
            admitted = key_id_of(bytes.fromhex(attrs["public_key"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError("a key-rotation entry needs attrs['public_key'] as 64 hex digits; use Ledger.rotate_key") from exc
        if admitted != subject:
            raise LedgerError(f"key-rotation subject {subject} is not the key id of attrs['public_key'] ({admitted})")


def _body_parts(kind: str, subject: str, parents: tuple[str, ...], attrs: Mapping[str, Any], key_part: bytes) -> tuple[bytes, bytes]:
    """The canonical JSON of an entry around its ``prev`` and ``seq``, encoded before the write lock.

    Parents and non-note subjects were checked against HASH_PATTERN, so they need no escaping.
    Keys in sorted order (attrs, key_id, kind, parents, prev, seq, subject, time), exactly as
    ``canonical_json`` of the whole entry would write them; a property test pins the equality.
    """
    head = b"".join(
        (
            b'{"attrs":',
            canonical_json(attrs),
            key_part,
            b',"kind":"',
            kind.encode(),
            b'","parents":[',
            b",".join(b'"' + p.encode() + b'"' for p in parents),
            b'],"prev":"',
        )
    )
    subject_part = canonical_json(subject) if kind == "note" else b'"' + subject.encode() + b'"'
    return head, b',"subject":' + subject_part


class Ledger:
    """An append-only signed ledger in one SQLite file; created when missing (``create=True``).

    Use as a context manager or call ``close()``. Safe for several writer processes.
    """

    def __init__(self, path: PathLike, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn = connect(self.path, create=create)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __len__(self) -> int:
        return self._conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def append(self, kind: str, subject: str, *, parents: Iterable[str] = (), attrs: Mapping[str, Any] | None = None, key: SigningKey) -> Entry:
        """Sign and append one entry in its own durable transaction; returns it."""
        return self.append_many([{"kind": kind, "subject": subject, "parents": parents, "attrs": attrs}], key=key)[0]

    def append_many(self, items: Iterable[Mapping[str, Any]], *, key: SigningKey) -> list[Entry]:
        """Sign and append a batch in ONE transaction: all of it lands or none of it.

        Each item is a mapping with ``kind``, ``subject`` and optional ``parents``, ``attrs``.
        """
        if not isinstance(key, SigningKey):
            raise LedgerError(f"key must be a SigningKey from generate_key/load_key, got {type(key).__name__}")
        key_part = b',"key_id":' + canonical_json(key.key_id)
        prepared = []
        for item in items:
            unknown = set(item) - {"kind", "subject", "parents", "attrs"}
            if unknown:
                raise LedgerError(f"unknown item field(s) {sorted(unknown)}; items take kind, subject, parents, attrs")
            kind, subject = item.get("kind", ""), item.get("subject", "")
            if isinstance(item.get("parents"), str):
                raise LedgerError(f"parents of {subject} must be a list of hashes, not one string: wrap it, parents=[h]")
            parents, attrs = tuple(item.get("parents") or ()), dict(item.get("attrs") or {})
            _check_item(kind, subject, parents, attrs)
            prepared.append((kind, subject, parents, attrs, _body_parts(kind, subject, parents, attrs, key_part)))
        if not prepared:
            return []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (0, GENESIS)
                if not HASH_PATTERN.fullmatch(prev):
                    raise LedgerError(f"head entry {seq - 1} of {self.path} has a malformed entry_hash; run `provenance verify`")
                time = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
                time_part = b',"time":' + canonical_json(time) + b"}"
                entries, rows = [], []
                for kind, subject, parents, attrs, (head, subject_part) in prepared:
                    body = b"".join((head, prev.encode(), b'","seq":', str(seq).encode(), subject_part, time_part))
                    entry_hash = "sha256:" + hashlib.sha256(body).hexdigest()
                    signature = key.private_key.sign(entry_hash.encode())
                    rows.append((seq, body.decode("utf-8"), entry_hash, signature))
                    entries.append(Entry(seq, time, kind, subject, parents, attrs, prev, key.key_id, entry_hash, signature, body))
                    seq, prev = seq + 1, entry_hash
                conn.executemany("INSERT INTO entries (seq, body, entry_hash, signature) VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot append to {self.path}: {exc}") from exc
        return entries

    def rotate_key(self, new_key: PublicKey | SigningKey, *, key: SigningKey, retire: bool = True) -> Entry:
        """Admit ``new_key`` as a signer from the next entry on; ``retire`` stops ``key`` signing after this."""
        public = new_key.public_key if isinstance(new_key, SigningKey) else new_key
        return self.append("key-rotation", public.key_id, attrs={"public_key": public.raw.hex(), "retire": retire}, key=key)

    def revoke(self, subject: str, *, key: SigningKey, reason: str) -> Entry:
        """Revoke an artifact (and so everything derived from it) or a signer key id."""
        return self.append("revocation", subject, attrs={"reason": reason}, key=key)

    def _rows(self, where: str = "", args: tuple = ()) -> Iterator[Entry]:
        query = f"SELECT body, entry_hash, signature FROM entries {where} ORDER BY seq"
        try:
            rows = self._conn.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read entries of {self.path} ({exc}); run `provenance verify` on it") from exc
        for body, entry_hash, signature in rows:
            yield Entry.from_body(body.encode("utf-8"), entry_hash, signature)

    def entries(self, start: int = 0) -> list[Entry]:
        """All entries from seq ``start`` on, in order."""
        return list(self._rows("WHERE seq >= ?", (start,)))

    def head(self) -> Entry | None:
        """The last entry, or None for an empty ledger."""
        return next(self._rows("WHERE seq = (SELECT max(seq) FROM entries)"), None)

    def find(self, subject: str) -> list[Entry]:
        """Every entry whose subject is ``subject``, in order (a scan: ledgers are not indexed)."""
        return list(self._rows("WHERE subject = ?", (subject,)))

    def get(self, ref: int | str) -> Entry:
        """The entry with seq ``ref`` (int or digits) or entry hash ``ref``; LedgerError if absent."""
        if isinstance(ref, int) or ref.isdigit():
            found = next(self._rows("WHERE seq = ?", (int(ref),)), None)
        else:
            found = next(self._rows("WHERE entry_hash = ?", (ref,)), None)
        if found is None:
            raise LedgerError(f"no entry {ref!r} in {self.path}; list them with `provenance log {self.path}`")
        return found

    def entry_hashes(self) -> list[str]:
        """Entry hashes recomputed from the stored bodies, in seq order (what checkpoints commit to)."""
        self._conn.text_factory = bytes
        try:
            return [hash_bytes(body) for (body,) in self._conn.execute("SELECT body FROM entries ORDER BY seq")]
        finally:
            self._conn.text_factory = str
