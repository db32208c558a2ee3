"""Build a C header into a shared library with the system compiler, cached on disk (internal).

The cache key is the student's content hash plus a digest of the exact source, flags and
compiler, so the same student compiles once per machine, and a changed exporter or compiler
gives a new library instead of a stale one. Libraries are written under a temporary name and
moved into place, so processes building the same student at once never load a half-written file.
The cache lives in ``$AGENT_DISTILL_CACHE`` (default ``~/.cache/agent-distill/runtime``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from hybrid.errors import ExportError

FLAGS = ("-std=c99", "-O3", "-ffp-contract=off", "-fPIC", "-shared")  # -O3 vectorises the MLP kernel; no contraction: same sums


def find_compiler() -> str | None:
    """The C compiler named by ``$CC``, else ``cc``, ``gcc`` or ``clang`` on the PATH; None if none."""
    names = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for name in names:
        found = shutil.which(shlex.split(name)[0]) if name.strip() else None
        if found:
            return found
    return None


def cache_dir() -> Path:
    """Where compiled libraries are kept."""
    return Path(os.environ.get("AGENT_DISTILL_CACHE") or Path.home() / ".cache" / "agent-distill" / "runtime")


def build_library(header: str, entry: str, *, content_hash: str, compiler: str, flags: tuple[str, ...] = FLAGS) -> ctypes.CDLL:
    """Compile ``header`` (as ``student.h``) and the exported ``entry`` source into a shared library
    and load it; reuse the cached library when one was built from the same inputs.

    Raises ExportError with the compiler's message if compilation fails.
    """
    digest = hashlib.sha256("\0".join([header, entry, compiler, *flags]).encode()).hexdigest()[:16]
    student = content_hash.split(":")[-1][:16]
    target = cache_dir() / f"{student}-{digest}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            (Path(tmp) / "student.h").write_text(header, encoding="utf-8")
            (Path(tmp) / "entry.c").write_text(entry, encoding="utf-8")
            built = Path(tmp) / target.name
            proc = subprocess.run([compiler, *flags, "-o", str(built), str(Path(tmp) / "entry.c"), "-lm"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise ExportError(f"{compiler} could not compile the student's header: {proc.stderr.strip()[:2000]}")
            os.replace(built, target)
    return ctypes.CDLL(str(target))
