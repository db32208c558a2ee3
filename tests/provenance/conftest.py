"""Shared fixtures: a deterministic signing key, a fresh ledger, a helper to make subject hashes."""

from __future__ import annotations

import hashlib

import pytest

from provenance.keys import SigningKey, generate_key


def subject(label: object) -> str:
    """A realistic subject hash for test entries."""
    return "sha256:" + hashlib.sha256(str(label).encode()).hexdigest()


@pytest.fixture
def key(tmp_path) -> SigningKey:
    return generate_key(tmp_path / "signer.key")


@pytest.fixture
def ledger_path(tmp_path):
    return tmp_path / "ledger.db"
