"""RFC 6962 Merkle trees: the published roots and proofs, and properties over all shapes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.merkle import inclusion_proof, leaf_hash, merkle_root, node_hash, verify_inclusion

# Leaves and tree heads from the RFC 6962 reference tests (certificate-transparency).
CT_LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOFS = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_known_roots(size):
    assert merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize("index", sorted(CT_PROOFS))
def test_known_inclusion_proofs(index):
    leaves = [leaf_hash(d) for d in CT_LEAVES]
    proof = inclusion_proof(leaves, index)
    assert [p.hex() for p in proof] == CT_PROOFS[index]
    assert verify_inclusion(leaves[index], index, 8, proof, bytes.fromhex(CT_ROOTS[8]))


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written recursively as the RFC states it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_root_equals_the_recursive_definition(leaves):
    assert merkle_root(leaves) == reference_root(leaves)


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_only_in_its_place(case):
    n, index = case
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    root = merkle_root([i.to_bytes(4, "big") for i in range(n)])
    proof = inclusion_proof(leaves, index)
    assert len(proof) <= max(1, (n - 1).bit_length())
    assert verify_inclusion(leaves[index], index, n, proof, root)
    assert not verify_inclusion(leaf_hash(b"other"), index, n, proof, root)
    assert not verify_inclusion(leaves[index], n, n, proof, root)  # index outside the tree
    if n > 1:
        other = (index + 1) % n
        assert not verify_inclusion(leaves[index], other, n, proof, root)
        assert not verify_inclusion(leaves[index], index, n, proof[:-1], root)
        flipped = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not verify_inclusion(leaves[index], index, n, flipped, root)
