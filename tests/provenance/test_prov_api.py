"""The public face: ``__all__`` is what exists, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import provenance

HEAVY = ("torch", "sklearn", "numpy", "pandas", "sqlite_utils", "hybrid", "auto_search", "networkx")


def test_all_lists_exactly_the_promised_api():
    promised = {
        "Ledger",
        "Entry",
        "generate_key",
        "load_key",
        "load_public_key",
        "SigningKey",
        "verify_ledger",
        "VerificationResult",
        "Finding",
        "LedgerError",
        "ProvenanceKeyError",
        "ProvenanceError",
        "canonical_json",
        "hash_array",
        "hash_bytes",
        "hash_dir",
        "hash_file",
        "hash_json",
    }
    assert promised <= set(provenance.__all__)
    for name in provenance.__all__:
        assert getattr(provenance, name) is not None
    assert set(provenance.__all__) <= set(dir(provenance))


def test_importing_every_module_pulls_in_nothing_heavy():
    modules = "provenance, provenance.cli, provenance.ledger, provenance.verify, provenance.checkpoint, provenance.lineage, provenance.intoto"
    code = f"import sys, {modules}; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


def test_the_cli_module_imports_no_crypto_or_sqlite_until_a_command_runs():
    code = "import sys, provenance.cli; print(' '.join(m for m in ('cryptography', 'sqlite3', 'json') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""
