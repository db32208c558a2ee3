"""The README's Python API block runs as written (on a small budget), so it stays true."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_python_api_block_runs(tmp_path, monkeypatch):
    block = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "budget_s=60" in block
    monkeypatch.chdir(tmp_path)
    code = compile(block.replace("budget_s=60", "budget_s=8, verbose=0, n_jobs=1"), "README.md", "exec")
    for _ in range(2):  # a second run reuses the key and records nothing twice (issue 23 #6)
        namespace: dict = {}
        exec(code, namespace)
        result = namespace["result"]
        assert result.student is not None
        assert (tmp_path / "runs" / "report" / "report.html").exists() and (tmp_path / "runs" / "model" / "student.py").exists()
    from provenance import Ledger

    with Ledger(tmp_path / "runs" / "ledger.db") as ledger:
        said = [(e.kind, e.subject, e.parents) for e in ledger.entries()]
    assert len(said) == len(set(said))
