"""Progress on stderr for the long commands (verify, bench: 15-30 s on a big model).

Only on a terminal and never with --json: a CI log or a script reading stdout sees
nothing of it. One line, rewritten in place, wiped when the command ends.
"""

from __future__ import annotations

import sys
import time

_showing: list[Progress] = []  # the one whose line is on the terminal now, if any


def wipe() -> None:
    """Clear the progress line before another line goes to stderr (a note, an error)."""
    for p in _showing:
        p.done()


class Progress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = time.perf_counter()
        self.shown = 0

    @classmethod
    def for_command(cls, as_json: bool) -> Progress:
        return cls(not as_json and sys.stderr.isatty())

    def __call__(self, stage: str) -> None:
        if not self.enabled:
            return
        text = f"mcugen: {stage} ({time.perf_counter() - self.start:.0f} s)"
        sys.stderr.write("\r" + text.ljust(self.shown))
        sys.stderr.flush()
        self.shown = len(text)
        if self not in _showing:
            _showing.append(self)

    def done(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r" + " " * self.shown + "\r")
            sys.stderr.flush()
            self.shown = 0
        if self in _showing:
            _showing.remove(self)
