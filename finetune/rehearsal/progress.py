"""Plain progress lines on stderr for the rehearsal: ``[mm:ss] message``, flushed as they happen."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints timestamped lines relative to its creation; ``quiet`` keeps only what :meth:`always` prints."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stamp(self) -> str:
        seconds = int(self.elapsed())
        return f"[{seconds // 60:02d}:{seconds % 60:02d}]"

    def step(self, message: str) -> None:
        if not self.quiet:
            self.always(message)

    def always(self, message: str) -> None:
        print(f"{self.stamp()} {message}", file=self.stream, flush=True)
