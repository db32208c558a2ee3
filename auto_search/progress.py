"""A live progress bar (rich): candidates done, best fidelity so far and time left.

Quiet when ``verbose=0`` or when output is not a terminal (CI logs, pipes), so logs stay clean.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any


class SearchProgress:
    """Context manager around a rich progress bar; every method is a no-op when quiet."""

    def __init__(self, total: int, deadline: float, *, verbose: int) -> None:
        from rich.console import Console

        console = Console(stderr=True)
        self._deadline = deadline
        self._bar: Any = None
        if verbose > 0 and console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("AutoDistill"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"), console=console, transient=False
            )
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> SearchProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, done: int, total: int, best_fidelity: float | None) -> None:
        """Show progress; ``total`` grows as successive-halving levels are planned."""
        if self._bar is None:
            return
        left = max(0.0, self._deadline - time.monotonic())
        best = "—" if best_fidelity is None else f"{100 * best_fidelity:.1f}%"
        self._bar.update(self._task, completed=done, total=total, description=f"best fidelity {best} · {left:.0f} s left")
