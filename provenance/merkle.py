"""RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proofs over entry hashes.

Leaves hash as SHA-256(0x00 || data), interior nodes as SHA-256(0x01 || left || right); the
tree splits at the largest power of two below its size, which equals pairing nodes level by
level and carrying a lone last node up unchanged (what this module does, iteratively, so a
million leaves need no recursion). The empty tree's root is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(level: Sequence[bytes]) -> bytes:
    """The tree head over already-hashed leaves."""
    if not level:
        return _sha256(b"").digest()
    level = list(level)
    while len(level) > 1:
        paired = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree head (MTH) of the leaf data ``leaves``."""
    return root_from_leaf_hashes([leaf_hash(d) for d in leaves])


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path (RFC 6962 section 2.1.1) for leaf ``index`` among ``leaf_hashes``."""
    if not 0 <= index < len(leaf_hashes):
        raise IndexError(f"leaf index {index} outside a tree of {len(leaf_hashes)} leaves")
    proof: list[bytes] = []
    level = list(leaf_hashes)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, index = paired, index // 2
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2, step by step; O(log n) hashes, nothing else needed.
    """
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
