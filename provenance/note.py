"""C2SP signed notes with Ed25519 keys: the envelope transparency logs put around checkpoints.

A signed note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``— <key name> base64(key ID || Ed25519 signature of the text)``. The 4-byte key ID is
SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian (c2sp.org/signed-note,
signature type 0x01). Verification follows the spec: signatures by unknown keys are ignored, a
known key's failing signature rejects the note, and a note needs one verified known signature.

``verifier_key`` writes the ``name+hash+base64(0x01 || key)`` form that Go's
golang.org/x/mod/sumdb/note reads, so a note can be checked by tools we did not write.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from provenance.errors import NoteError
from provenance.keys import PublicKey, SigningKey

ED25519 = 0x01
DASH = "\u2014 "  # em dash and a space open every signature line
MAX_SIGNATURES = 100


def check_key_name(name: str) -> str:
    """``name`` when it is a valid key name (non-empty, no Unicode space, no ``+``); NoteError otherwise."""
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name) or not _printable(name):
        raise NoteError(
            f"key name {name!r} is not valid: it must be non-empty, without spaces, '+' or control characters "
            "(use a schema-less URL such as example.com/ledger)"
        )
    return name


def note_key_id(name: str, key: PublicKey) -> int:
    """The 32-bit key ID of an Ed25519 key under ``name`` (c2sp.org/signed-note)."""
    digest = hashlib.sha256(check_key_name(name).encode("utf-8") + b"\n" + bytes([ED25519]) + key.raw).digest()
    return int.from_bytes(digest[:4], "big")


def verifier_key(name: str, key: PublicKey) -> str:
    """The verifier key ``name+<8 hex>+base64(0x01 || key)``, as Go's ``note.NewVerifier`` reads it."""
    return f"{name}+{note_key_id(name, key):08x}+{base64.b64encode(bytes([ED25519]) + key.raw).decode('ascii')}"


def parse_verifier_key(vkey: str) -> tuple[str, PublicKey]:
    """The (name, key) of a verifier key written by ``verifier_key``; NoteError when it is malformed or its hash is wrong."""
    name, _, rest = vkey.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    try:
        raw = base64.b64decode(key_b64, validate=True)
        claimed = int(hash_hex, 16) if len(hash_hex) == 8 and all(c in "0123456789abcdefABCDEF" for c in hash_hex) else None
    except ValueError:  # binascii.Error, or non-ASCII text
        raw, claimed = b"", None
    if claimed is None or len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(f"verifier key {vkey!r} is not NAME+8HEX+base64(0x01 || 32-byte Ed25519 key)")
    key = PublicKey(raw[1:])
    if note_key_id(name, key) != claimed:
        raise NoteError(f"verifier key {vkey!r} has key ID {hash_hex}, but its name and key give {note_key_id(name, key):08x}")
    return name, key


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the signer's key name, its 32-bit key ID and the Ed25519 signature."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{DASH}{self.name} {base64.b64encode(self.key_id.to_bytes(4, 'big') + self.signature).decode('ascii')}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_text(self) -> str:
        """The signed note as written to a file: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def verified_by(self, keys: Iterable[PublicKey]) -> list[PublicKey]:
        """The keys among ``keys`` whose signature verifies; empty when none does or when one of them fails.

        A signature is a known key's when its name and key ID match that key; others are ignored.
        """
        text, verified = self.text.encode("utf-8"), []
        keys = list(keys)
        for sig in self.signatures:
            for key in keys:
                if note_key_id(sig.name, key) == sig.key_id:
                    if not key.verify(sig.signature, text):
                        return []  # a known key's bad signature rejects the whole note (SHOULD in the spec)
                    verified.append(key)
        return list({k.key_id: k for k in verified}.values())

    @classmethod
    def parse(cls, data: str | bytes) -> SignedNote:
        """Split a signed note into text and signature lines; NoteError when it is not one."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NoteError(f"a signed note must be UTF-8 ({exc.reason} at byte {exc.start})") from None
        if not _printable(data.replace("\n", "")):
            raise NoteError("a signed note must not hold control characters other than newline")
        split = data.rfind("\n\n")
        if split < 0 or not data.endswith("\n"):
            raise NoteError("a signed note is text, a blank line, then signature lines each ending in a newline")
        text, block = data[: split + 1], data[split + 2 :]
        lines = block[:-1].split("\n") if block else []  # split on newline only: U+2028 and friends are not line ends here
        if not lines or len(lines) > MAX_SIGNATURES:
            raise NoteError(f"a signed note needs 1 to {MAX_SIGNATURES} signature lines, found {len(lines)}")
        return cls(text, tuple(_parse_signature(line) for line in lines))


def sign_note(text: str, name: str, key: SigningKey) -> SignedNote:
    """Sign ``text`` (which must end in a newline and hold no blank last line) as key ``name``."""
    if not text.endswith("\n") or text.endswith("\n\n") or not _printable(text.replace("\n", "")):
        raise NoteError("note text must end in one newline and hold no control characters other than newline")
    signature = key.sign(text.encode("utf-8"))
    return SignedNote(text, (NoteSignature(check_key_name(name), note_key_id(name, key.public_key), signature),))


def _parse_signature(line: str) -> NoteSignature:
    name, _, b64 = line.removeprefix(DASH).partition(" ")
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raw = b""
    if not line.startswith(DASH) or len(raw) < 5:
        raise NoteError(f"signature line {line!r} is not '— NAME base64(key ID || signature)'")
    return NoteSignature(check_key_name(name), int.from_bytes(raw[:4], "big"), raw[4:])


def _printable(text: str) -> bool:
    return all(ord(c) >= 0x20 for c in text)
