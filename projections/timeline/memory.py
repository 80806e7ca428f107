"""The timeline in memory, for tests of the runner without PostgreSQL: the same pure
projection, rows written through a ``consumers.memory`` transaction, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from events import Touchpoint
from events.resolved import Resolved
from projections.timeline.postgres import TABLE
from projections.timeline.projection import TimelineEntry, project_all
from projections.view import Unapplicable, ViewHooks

Identity = tuple[str, str, str]


class Staging(Protocol):
    """A transaction that applies staged writes when it commits."""

    def stage(self, write: Callable[[], None]) -> None: ...


def _storable(entry: TimelineEntry) -> bool:
    """What PostgreSQL would store: no NUL character in text, nor a ``\\u0000`` in jsonb."""
    texts = (entry.subject_key, entry.message_id, entry.summary, entry.type)
    return "\\u0000" not in entry.payload_json and not any("\x00" in t for t in texts)


class MemoryTimeline(ViewHooks):
    name = TABLE

    schema: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.rows: dict[Identity, TimelineEntry] = {}

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> list[TimelineEntry]:
        return project_all(events)

    async def write(self, tx: Staging, entries: list[TimelineEntry]) -> None:
        refused = [e.message_id for e in entries if not _storable(e)]
        if refused:
            raise Unapplicable(f"a NUL character in {', '.join(refused)}")

        def insert() -> None:
            for entry in entries:
                self.rows.setdefault(entry.identity(), entry)

        tx.stage(insert)

    def entries(self, subject_key: str) -> list[TimelineEntry]:
        """A subject's rows, newest first (as ``fetch_timeline`` orders them)."""
        rows = [e for (key, _, _), e in self.rows.items() if key == subject_key]
        return sorted(rows, key=lambda e: (e.occurred_at, e.source_system, e.message_id))[::-1]
