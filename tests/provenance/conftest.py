"""Shared fixtures: a signing key written to disk and a fresh ledger path."""

from __future__ import annotations

import pytest

from provenance.keys import SigningKey, generate_key


@pytest.fixture
def key(tmp_path) -> SigningKey:
    return generate_key(tmp_path / "signer.key")


@pytest.fixture
def ledger_path(tmp_path):
    return tmp_path / "ledger.db"
