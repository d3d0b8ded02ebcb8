"""One place every study reports progress: a line per run with its position, elapsed time
and an estimate of what remains."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def _clock(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """``Progress(total, label)``; call :meth:`step` once per run (done or skipped).

    The estimate uses runs that trained (skipped ones cost nothing), so a resumed grid
    does not promise an instant finish.
    """

    def __init__(self, total: int, label: str = "", write: Callable[[str], None] | None = None):
        self.total = int(total)
        self.label = label
        self.position = 0
        self.trained = 0
        self.trained_seconds = 0.0
        self.start = time.perf_counter()
        self._write = write or (lambda line: print(line, file=sys.stdout, flush=True))

    def step(self, description: str, *, skipped: bool = False, seconds: float | None = None,
             summary: str = "") -> str:
        self.position += 1
        elapsed = time.perf_counter() - self.start
        if skipped:
            what = "already finished"
        else:
            self.trained += 1
            self.trained_seconds += seconds or 0.0
            what = f"done in {seconds:.1f} s" if seconds is not None else "done"
        remaining = self.total - self.position
        estimate = ""
        if remaining and self.trained:
            estimate = f", ~{_clock(remaining * self.trained_seconds / self.trained)} left"
        prefix = f"{self.label} " if self.label else ""
        line = (f"[{self.position}/{self.total}] {prefix}{description}: {what}"
                f"{' - ' + summary if summary else ''} (elapsed {_clock(elapsed)}{estimate})")
        self._write(line)
        return line


def make_progress(progress, total: int, label: str = "") -> Progress | None:
    """``progress``: True (print), False/None (silent), a callable taking a line, or a
    :class:`Progress` already made."""
    if isinstance(progress, Progress):
        return progress
    if progress is None or progress is False:
        return None
    if progress is True:
        return Progress(total, label)
    if callable(progress):
        return Progress(total, label, write=progress)
    raise ValueError(f"progress must be True, False, a callable or a Progress, got {progress!r}")
