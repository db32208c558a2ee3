"""``agent-distill search DATA --out DIR`` leaves the shipped model and its exports in DIR/model
even without a ledger, and they are the model the report names."""

from __future__ import annotations

import json
import subprocess
import sys

from provenance.hashing import hash_json


def test_out_gets_the_model_and_exports_without_a_ledger(small_dataset, tmp_path):
    data = tmp_path / "decisions.npz"
    small_dataset.save(data)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "auto_search.cli",
        "search",
        str(data),
        "--out",
        str(out),
        "--budget",
        "20",
        "--families",
        "tree",
        "--n-jobs",
        "1",
        "--verbose",
        "0",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    model = json.loads((out / "model" / "model.json").read_text())
    assert hash_json(model) == report["shipped"]["content_hash"]
    assert (out / "model" / "student.py").exists() and (out / "model" / "student.h").exists()
    assert "model: " in proc.stderr and report["ledger_entries"] == []


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_interrupted_search_leaves_the_previous_output_byte_identical(small_dataset, tmp_path):
    """Issue 23 #1: Ctrl-C printed "ships …", exited 130 and left a report naming a model that was not on disk."""
    import signal
    import time

    data = tmp_path / "decisions.npz"
    small_dataset.save(data)
    out = tmp_path / "out"
    base = [sys.executable, "-m", "auto_search.cli", "search", str(data), "--out", str(out), "--n-jobs", "1", "--verbose", "0"]
    first = subprocess.run([*base, "--budget", "20", "--families", "tree"], capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    before = _tree(out)
    # an MLP of many epochs is still fitting when the interrupt lands
    proc = subprocess.Popen([*base, "--budget", "120", "--families", "mlp", "--max-epochs", "5000"], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # the search has started once it says so
        lines.append(line)
        if line.startswith("searching"):
            break
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted after" in last and f"nothing shipped, {out} unchanged" in last, err
    assert "ships" not in err
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left behind
