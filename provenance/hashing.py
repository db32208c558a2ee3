"""Content hashes for arrays, files, folders and JSON documents.

Every hash is SHA-256, hex, prefixed with the algorithm (``sha256:…``), so a hash read from a
ledger says how it was made. An array hashes over its dtype, shape and little-endian C-order
bytes: the same data gives the same hash whichever file format carried it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from provenance.errors import HashingError

PREFIX = "sha256:"


def _digest(h: hashlib._Hash) -> str:
    return PREFIX + h.hexdigest()


def hash_bytes(data: bytes) -> str:
    """Hash raw bytes."""
    return _digest(hashlib.sha256(data))


def _is_plain(obj: Any) -> bool:
    """True when ``obj`` holds no NaN, infinity or non-string key (the fast path: no paths built)."""
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) for k in obj) and all(_is_plain(v) for v in obj.values() if isinstance(v, _NESTED))
    if isinstance(obj, (list, tuple)):
        return all(_is_plain(v) for v in obj if isinstance(v, _NESTED))
    return True


_NESTED = (float, dict, list, tuple)


def _check_finite(obj: Any, where: str = "$") -> None:
    """Raise HashingError naming where ``obj`` holds a NaN, an infinity or a non-string key."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise HashingError(f"canonical JSON refuses {obj!r} at {where}: NaN and infinities have no JSON form; replace them (e.g. with null) before hashing")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise HashingError(f"canonical JSON needs string keys; got {k!r} at {where}")
            _check_finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8, shortest round-trip floats.

    The float rule (this is not RFC 8785, and is pinned by test vectors): floats are written
    with Python's ``repr``, the shortest string that parses back to the same double, so ``1.0``
    stays ``1.0`` and never collides with the integer ``1``; ``1e-07`` and ``-0.0`` keep
    Python's spelling. NaN and infinities are refused rather than written as non-standard
    tokens, and so are non-string keys (``json`` would silently turn ``1`` into ``"1"``).
    Tuples are written as lists; numpy scalars and 0-d arrays as their Python value (``.item()``).
    Other types raise HashingError.
    """
    if not _is_plain(obj):
        _check_finite(obj)
    try:
        return _ENCODER.encode(obj).encode("utf-8")
    except HashingError:
        raise
    except UnicodeEncodeError as exc:
        raise HashingError(f"canonical JSON needs valid Unicode text; {exc.reason} at {exc.object[exc.start : exc.end]!r}") from exc
    except ValueError as exc:  # a NaN or infinity inside a numpy scalar
        raise HashingError(f"canonical JSON refuses NaN and infinities ({exc}); replace them (e.g. with null) before hashing") from exc


def _scalar(obj: Any) -> Any:
    """JSON encoder fallback: a numpy scalar (or 0-d array) becomes its Python value; anything else is refused."""
    if getattr(obj, "shape", None) == () and hasattr(obj, "item"):
        return obj.item()
    raise HashingError(f"canonical JSON cannot encode a {type(obj).__name__}; convert it to str, int, float, bool, None, list or dict")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_scalar)


def hash_json(obj: Any) -> str:
    """Hash the canonical JSON form of a JSON-able object."""
    return hash_bytes(canonical_json(obj))


def hash_array(array: Any) -> str:
    """Hash an array over its dtype, shape and little-endian C-order bytes.

    Accepts anything ``numpy.asarray`` takes; numpy is imported lazily so that the verifier
    does not pay for it.
    """
    import numpy as np

    a = np.asarray(array)
    if a.dtype == object:
        raise HashingError("hash_array needs a numeric array, not dtype=object; convert it with np.asarray(x, dtype=float)")
    le = a.astype(a.dtype.newbyteorder("<"), copy=False) if a.dtype.byteorder == ">" else a
    le = np.ascontiguousarray(le)
    header = canonical_json({"dtype": le.dtype.str.replace("=", "<").replace("|", "<"), "shape": list(a.shape)})
    h = hashlib.sha256()
    h.update(len(header).to_bytes(8, "little"))
    h.update(header)
    h.update(le.tobytes(order="C"))
    return _digest(h)


def hash_file(path: Any, chunk_size: int = 1 << 20) -> str:
    """Hash a file's bytes, streaming in ``chunk_size`` blocks into a reused buffer."""
    h = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])
    return _digest(h)


def hash_dir(path: Any) -> str:
    """Hash a folder: the canonical JSON of its sorted relative paths and their file hashes."""
    from pathlib import Path

    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"hash_dir needs a folder; {root} is not one")
    manifest = {p.relative_to(root).as_posix(): hash_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
    return hash_json(manifest)
