"""Helpers shared by the provenance tests (imported by module name: tests dirs are not packages)."""

from __future__ import annotations

import hashlib


def subject(label: object) -> str:
    """A realistic subject hash for test entries."""
    return "sha256:" + hashlib.sha256(str(label).encode()).hexdigest()
