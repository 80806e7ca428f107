"""Progress: a bar on a terminal, plain lines elsewhere (issue 16)."""

from __future__ import annotations

import io

from producers.legacy.progress import ProgressDisplay


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_ends_full() -> None:
    out = Terminal()
    progress = ProgressDisplay(out, "shop.csv", 40, "line", every=10)
    for line in range(1, 41):
        progress.update(line, "published so far")
    progress.close(40, "published 39, rejected 0")
    shown = out.getvalue()
    assert "━" in shown  # rich's bar
    assert "40/40" in shown
    assert "published 39, rejected 0" in shown


def test_elsewhere_plain_lines_every_n_and_at_the_end() -> None:
    out = io.StringIO()
    progress = ProgressDisplay(out, "events.jsonl", 25, "event", every=10)
    for n in range(1, 26):
        progress.update(n)
    progress.close(25, "accepted 25")
    assert out.getvalue().splitlines() == [
        "events.jsonl: event 10/25 (40%)",
        "events.jsonl: event 20/25 (80%)",
        "events.jsonl: event 25/25 (100%) - accepted 25",
    ]
