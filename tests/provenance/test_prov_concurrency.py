"""Several writer processes never fork the chain; a SIGKILLed writer leaves whole transactions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from provenance.keys import generate_key
from provenance.ledger import Ledger
from provenance.verify import verify_ledger

WRITER = """
import hashlib, sys
from provenance.keys import load_key
from provenance.ledger import Ledger
ledger_path, key_path, writer, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
key = load_key(key_path)
with Ledger(ledger_path) as ledger:
    for i in range(count):
        ledger.append("model", "sha256:" + hashlib.sha256(f"{writer}-{i}".encode()).hexdigest(), attrs={"writer": writer, "i": i}, key=key)
"""

BATCHER = """
import hashlib, sys
from provenance.keys import load_key
from provenance.ledger import Ledger
ledger_path, key_path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
key = load_key(key_path)
with Ledger(ledger_path) as ledger:
    for b in range(10**6):
        print("begin", b, flush=True)
        ledger.append_many([{"kind": "note", "subject": f"{b}-{i}"} for i in range(batch)], key=key)
"""


def test_four_processes_append_250_each_into_one_chain(tmp_path):
    key = generate_key(tmp_path / "k")
    ledger_path = tmp_path / "shared.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(ledger_path), str(tmp_path / "k"), str(w), "250"], stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    errors = [p.communicate(timeout=300)[1] for p in writers]
    assert [p.returncode for p in writers] == [0, 0, 0, 0], errors
    with Ledger(ledger_path) as ledger:
        entries = ledger.entries()
    assert [e.seq for e in entries] == list(range(1000))
    assert [e.prev for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    for w in range(4):
        assert [e.attrs["i"] for e in entries if e.attrs["writer"] == str(w)] == list(range(250))
    result = verify_ledger(ledger_path, [key])
    assert result.ok and result.size == 1000


def test_a_writer_killed_mid_batch_leaves_only_whole_batches(tmp_path):
    key = generate_key(tmp_path / "k")
    ledger_path, batch = tmp_path / "crash.db", 2000
    writer = subprocess.Popen([sys.executable, "-c", BATCHER, str(ledger_path), str(tmp_path / "k"), str(batch)], stdout=subprocess.PIPE, text=True)
    for _ in range(4):  # three batches committed, the fourth being signed
        assert writer.stdout.readline().startswith("begin")
    time.sleep(0.01)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=60)
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    result = verify_ledger(ledger_path, [key])
    assert result.ok, result.findings
    assert result.size >= 3 * batch and result.size % batch == 0
    with Ledger(ledger_path) as ledger:  # and the ledger takes new appends after recovery
        assert ledger.append("note", "after the crash", key=key).seq == result.size
