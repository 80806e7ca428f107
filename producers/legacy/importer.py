"""``touchlog import``: a business unit's customer export, one ``profile.updated`` per row.

Rows are sent in chunks; after the broker acknowledges a chunk, the state file records
the last line done, so a run stopped at any moment is resumed from there. Events are
named after their records (``rows.message_id``): whatever a crash makes us send twice
is deduplicated downstream.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from events import Touchpoint
from events.envelope import Source
from producers.legacy.mapping import ExportMapping
from producers.legacy.progress import ProgressDisplay
from producers.legacy.reading import read_rows
from producers.legacy.rows import ImportedRow, Problem, RejectedRow, RowConverter
from producers.legacy.state import (
    FileFingerprint,
    ImportState,
    fingerprint,
    load_state,
    new_state,
    save_state,
)


class EventSink(Protocol):
    """What the import sends to: ``producers.Publisher`` (waits for the acknowledgement)."""

    async def publish_many(self, events: Iterable[Touchpoint]) -> Sized: ...


@dataclass
class ImportSummary:
    file: Path
    published: int = 0
    skipped: int = 0  # done by an earlier run
    rejected: list[RejectedRow] = field(default_factory=list)
    left_out: list[tuple[int, Problem]] = field(default_factory=list)
    resumed_after: int = 0  # the last line an earlier run had done; 0: from the start
    complete: bool = False

    def __str__(self) -> str:
        return self.counts() + ("" if self.complete else " (stopped before the end)")

    def counts(self) -> str:
        """What was done so far, without saying whether the import is over."""
        text = (
            f"published {self.published}, skipped as already done {self.skipped}, "
            f"rejected {len(self.rejected)}"
        )
        if self.left_out:
            rows = len({line for line, _ in self.left_out})
            text += f"; {len(self.left_out)} unusable values left out of {rows} rows"
        return text


@dataclass(frozen=True, slots=True)
class ImportOptions:
    chunk: int = 500
    stop_after: int | None = None
    """Stop after this many rows of this run (tests: a crash between two chunks)."""
    restart: bool = False
    """Ignore the state file: send every row again."""
    progress: TextIO | None = sys.stderr
    progress_every: int = 1000
    region: str | None = None
    """Phones are read as libphonenumber reads them in this region; None: as written."""


def _state_to_go_on_from(
    path: Path,
    file: FileFingerprint,
    mapping_sha256: str,
    source: Source,
    state_path: Path,
    options: ImportOptions,
) -> ImportState:
    """The previous run's state if it imported this file with this mapping, else a new one."""
    state = None if options.restart else load_state(state_path)
    if state is not None and not state.continues(file, mapping_sha256, source):
        if options.progress is not None:
            print(
                f"{path}: file or mapping changed since {state_path}: starting over",
                file=options.progress,
            )
        state = None
    return state or new_state(path, file, mapping_sha256, source, datetime.now(UTC))


async def import_export(
    path: Path,
    mapping: ExportMapping,
    mapping_sha256: str,
    source: Source,
    sink: EventSink,
    state_path: Path,
    occurred_at: datetime | None = None,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Send every usable row of an export; resume after the last line a previous run did."""
    options = options or ImportOptions()
    file = await asyncio.to_thread(fingerprint, path)
    state = _state_to_go_on_from(path, file, mapping_sha256, source, state_path, options)
    if occurred_at is not None:
        state = state.model_copy(update={"occurred_at": occurred_at})
    summary = ImportSummary(path, resumed_after=state.last_line)
    progress = ProgressDisplay(
        options.progress, path.name, file.lines, "line", options.progress_every
    )
    converter = RowConverter(mapping, source, state.occurred_at, options.region)
    pending: list[ImportedRow] = []
    done_in_run, last_line = 0, state.last_line

    async def flush(complete: bool) -> None:
        if pending:
            await sink.publish_many([row.event for row in pending])
            summary.published += len(pending)
            pending.clear()
        done = state.model_copy(
            update={
                "last_line": last_line,
                "complete": complete,
                "published": state.published + summary.published,
                "rejected": state.rejected + len(summary.rejected),
            }
        )
        save_state(state_path, done)

    for line, cells in read_rows(path, mapping):
        # Every row is converted, those done too: the converter must see the same rows.
        outcome = cells if isinstance(cells, RejectedRow) else converter.convert(line, cells)
        progress.update(line, summary.counts())
        if line <= state.last_line:
            summary.skipped += 1
            continue
        last_line = line
        if isinstance(outcome, RejectedRow):
            summary.rejected.append(outcome)
        else:
            summary.left_out += [(line, problem) for problem in outcome.left_out]
            pending.append(outcome)
            if len(pending) >= options.chunk:
                await flush(complete=False)
        done_in_run += 1
        if options.stop_after is not None and done_in_run >= options.stop_after:
            await flush(complete=False)
            progress.close(last_line, str(summary))
            return summary
    await flush(complete=True)
    summary.complete = True
    progress.close(file.lines, str(summary))
    return summary
