"""Ed25519 signing keys and trusted public keys, stored as PEM files.

A key id is ``sha256:`` + the SHA-256 of the 32-byte raw public key, so anyone holding the
public key can recompute it. Private keys are PKCS8 PEM written with mode 0600. With a
passphrase they are encrypted by ``cryptography``'s best available PKCS8 scheme, which derives
the key with only 2,048 PBKDF2 iterations: that is weak against an offline guesser, so use a
long random passphrase (or keep the file on an encrypted disk) rather than a memorable one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.errors import ProvenanceKeyError

PathLike = Union[str, "os.PathLike[str]"]
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_raw: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key: ``sha256:`` + hex digest."""
    return "sha256:" + hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with its key id; ``verify`` answers True or False, never raises."""

    raw: bytes
    key_id: str = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise ProvenanceKeyError(f"an Ed25519 public key has 32 bytes, got {len(self.raw)}")
        object.__setattr__(self, "key_id", key_id_of(self.raw))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.raw))

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM, the form ``openssl`` and other tools read."""
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key: ``sign(message)`` returns the 64-byte signature."""

    private_key: Ed25519PrivateKey = field(repr=False)
    public_key: PublicKey = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", PublicKey(self.private_key.public_key().public_bytes(*_RAW)))

    @property
    def key_id(self) -> str:
        """``sha256:`` + hex SHA-256 of the raw public key."""
        return self.public_key.key_id

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` (64 bytes)."""
        return self.private_key.sign(message)

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """A key from its 32-byte RFC 8032 secret (for test vectors and deterministic fixtures)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))


def generate_key(path: PathLike, passphrase: str | bytes | None = None) -> SigningKey:
    """Create a new Ed25519 key at ``path`` (PKCS8 PEM, mode 0600) and ``path.pub`` beside it.

    Never overwrites a file, so a key in use is never lost by accident: when both files already
    hold a matching pair (a script run a second time), that key is loaded and returned; a lone
    file, or a pair that does not match, is refused.
    """
    path = Path(path)
    pub_path = public_path(path)
    if path.is_file() and pub_path.is_file():
        key = load_key(path, passphrase)
        if load_public_key(pub_path).key_id != key.key_id:
            raise ProvenanceKeyError(f"{path} and {pub_path} already exist but are not one key pair; choose another path or remove both first")
        return key
    for p in (path, pub_path):
        if p.exists():
            raise ProvenanceKeyError(f"{p} already exists without its other half; choose another path or remove it first")
    key = SigningKey(Ed25519PrivateKey.generate())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(_as_bytes(passphrase)) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        pub_path.write_bytes(key.public_key.to_pem())
    except OSError as exc:
        raise ProvenanceKeyError(f"cannot write key {path}: {exc.strerror}") from exc
    return key


def public_path(path: PathLike) -> Path:
    """Where ``generate_key`` puts the public half of the key at ``path``: ``path.pub``."""
    path = Path(path)
    return path.with_name(path.name + ".pub")


def load_key(path: PathLike, passphrase: str | bytes | None = None) -> SigningKey:
    """Read an Ed25519 private key written by ``generate_key`` (or any PKCS8/OpenSSL PEM)."""
    data = _read(path, "key")
    try:
        private = serialization.load_pem_private_key(data, _as_bytes(passphrase) if passphrase else None)
    except TypeError as exc:
        if passphrase:
            raise ProvenanceKeyError(f"{path} is not encrypted; load it without a passphrase") from exc
        raise ProvenanceKeyError(f"{path} is encrypted; give its passphrase (CLI: set PROVENANCE_PASSPHRASE)") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        if passphrase and b"ENCRYPTED" in data:
            raise ProvenanceKeyError(f"wrong passphrase for {path}") from exc
        raise ProvenanceKeyError(f"{path} is not a PEM private key; create one with `provenance keygen`") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ProvenanceKeyError(f"{path} holds a {type(private).__name__}, not an Ed25519 key; create one with `provenance keygen`")
    return SigningKey(private)


def load_public_key(source: PathLike | bytes | PublicKey | SigningKey) -> PublicKey:
    """A trusted public key from a ``.pub`` PEM file, PEM bytes, 32 raw bytes or a key object."""
    if isinstance(source, PublicKey):
        return source
    if isinstance(source, SigningKey):
        return source.public_key
    if isinstance(source, bytes) and len(source) == 32:
        return PublicKey(source)
    data = source if isinstance(source, bytes) else _read(source, "public key")
    where = "the given bytes" if isinstance(source, bytes) else str(source)
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ProvenanceKeyError(f"{where} is not a PEM public key; pass the KEYFILE.pub written by `provenance keygen`") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise ProvenanceKeyError(f"{where} holds a {type(public).__name__}, not an Ed25519 public key")
    return PublicKey(public.public_bytes(*_RAW))


def load_public_keys(sources: list[PathLike | bytes | PublicKey | SigningKey]) -> dict[str, PublicKey]:
    """Trusted keys by key id; a folder among ``sources`` contributes every ``*.pub`` file in it."""
    keys: dict[str, PublicKey] = {}
    for source in sources:
        if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
            found = [load_public_key(p) for p in sorted(Path(source).glob("*.pub"))]
            if not found:
                raise ProvenanceKeyError(f"folder {source} holds no *.pub key files")
        else:
            found = [load_public_key(source)]
        keys.update((k.key_id, k) for k in found)
    return keys


def _read(path: PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ProvenanceKeyError(f"{what} file {path} not found; check the path") from exc
    except OSError as exc:
        raise ProvenanceKeyError(f"cannot read {what} file {path}: {exc.strerror}") from exc


def _as_bytes(passphrase: str | bytes) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
