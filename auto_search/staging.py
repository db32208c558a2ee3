"""Outputs that appear whole or not at all: a command writes into a temporary folder beside its
output folder and moves each entry into place only once everything is written.

An interrupted or failed command so leaves the previous output byte-identical (or none). Each
entry moves by one rename on the same file system; a folder that an entry replaces is first
renamed into the temporary folder and removed with it, and files in the output folder that the
command does not write are left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(out: str | Path) -> Iterator[Path]:
    """A temporary folder to write ``out``'s entries into; they move into ``out`` when the block
    ends without an exception, and the temporary folder is removed either way."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; give a folder (it is created when missing)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, out: Path) -> None:
    """Move every entry of ``tmp`` into ``out``, replacing entries of the same name."""
    out.mkdir(exist_ok=True)
    for entry in sorted(tmp.iterdir()):
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            target.rename(tmp / f".replaced-{entry.name}")  # removed with tmp
        os.replace(entry, target)
