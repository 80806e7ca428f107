"""How far a long command has got: a ``rich`` bar on a terminal, plain lines otherwise.

Plain lines go to logs and CI output, where a redrawn bar would be noise.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class ProgressDisplay:
    """``name``: ``done``/``total`` units, and a line of text about them."""

    def __init__(
        self, stream: TextIO | None, name: str, total: int, unit: str, every: int = 1000
    ) -> None:
        self.stream, self.name, self.total, self.unit = stream, name, max(total, 1), unit
        self.every, self._updates = max(every, 1), 0
        self._bar: RichProgress | None = None
        if stream is not None and stream.isatty():
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[text]}"),
                console=Console(file=stream),
                transient=False,
            )
            self._task = self._bar.add_task(name, total=self.total, text="")
            self._bar.start()

    def update(self, done: int, text: str = "") -> None:
        """Called once per item: a plain line every ``every`` calls."""
        self._updates += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=done, text=text)
        elif self.stream is not None and self._updates % self.every == 0:
            self._line(done, text)

    def close(self, done: int, text: str) -> None:
        """The last state, shown whatever ``every`` says."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, text=text)
            self._bar.stop()
        elif self.stream is not None:
            self._line(done, text)

    def _line(self, done: int, text: str) -> None:
        share = 100 * done // self.total
        line = f"{self.name}: {self.unit} {done}/{self.total} ({share}%)"
        print(line + (f" - {text}" if text else ""), file=self.stream, flush=True)
