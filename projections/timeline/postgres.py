"""The timeline's PostgreSQL tables and queries.

Rows are written by ``COPY`` into a per-transaction staging table, then moved
with ``INSERT … ON CONFLICT DO NOTHING``: COPY speed, and applying an event a
second time is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events import Touchpoint
from events.codec import Codec
from events.fast_decode import SharedDecodes
from events.resolved import RESOLVED, Resolved
from projections.cursor import Cursor
from projections.db import Connection, Queryable, copy_insert
from projections.timeline import fast
from projections.timeline.projection import TimelineEntry, project_all
from projections.view import ViewHooks

TABLE = "timeline_v1"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    subject_key    text        NOT NULL,
    source_system  text        NOT NULL,
    message_id     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    type           text        NOT NULL,
    channel        text        NOT NULL,
    business_unit  text        NOT NULL,
    summary        text        NOT NULL,
    payload        jsonb       NOT NULL,
    campaign_code  text,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_key, source_system, message_id)
);
CREATE INDEX IF NOT EXISTS {TABLE}_newest_first
    ON {TABLE} (subject_key, occurred_at DESC, source_system DESC, message_id DESC);
COMMENT ON TABLE {TABLE} IS 'touchlog:personal customer=subject_key action=anonymise '
    'clear=summary payload=payload:type at=occurred_at';
"""

COLUMNS = (
    "subject_key",
    "source_system",
    "message_id",
    "occurred_at",
    "type",
    "channel",
    "business_unit",
    "summary",
    "payload",
    "campaign_code",
)
"""A row's columns, in the order ``TimelineView.changes`` gives its values."""


class TimelineView(ViewHooks):
    """The timeline as the projection runner sees it: create tables, apply a batch."""

    name = TABLE

    schema = (SCHEMA,)

    async def decode(self, values: Sequence[bytes | None], codec: Codec[Any]) -> Sequence[Any]:
        """``touchlog.resolved`` records read straight into timeline rows
        (``projections/timeline/fast.py``): opened, never built into events. Any other
        codec (raw touchpoints, tests) decodes events as every view does."""
        if not (isinstance(codec, SharedDecodes) and codec.codec is RESOLVED and codec.opener):
            return await super().decode(values, codec)
        return fast.entries_of_each(await codec.opener.open_many(values))

    def changes(
        self, events: Sequence[Touchpoint | Resolved | list[TimelineEntry]]
    ) -> list[tuple[object, ...]]:
        """COPY-ready rows (pure: runs while the previous batch is being written), each
        identity once (a batch may hold a re-published event)."""
        entries: dict[tuple[str, str, str], TimelineEntry] = {}
        for item in events:
            rows = item if isinstance(item, list) else project_all([item])
            for r in rows:
                entries.setdefault(r.identity(), r)
        return [
            (
                r.subject_key,
                r.source_system,
                r.message_id,
                r.occurred_at,
                r.type,
                r.channel,
                r.business_unit,
                r.summary,
                r.payload_json,
                r.campaign_code,
            )
            for r in entries.values()
        ]

    async def write(self, conn: Connection, rows: list[tuple[object, ...]]) -> None:
        await copy_insert(conn, TABLE, COLUMNS, rows)

    async def apply(self, conn: Connection, events: Sequence[Touchpoint | Resolved]) -> None:
        """Project and write in one go (tests and one-off loads)."""
        await self.write(conn, self.changes(events))


# --- reads -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelinePage:
    entries: list[dict[str, Any]]
    next_cursor: str | None


async def fetch_timeline(
    conn: Queryable,
    subject_keys: str | Sequence[str],
    *,
    limit: int = 50,
    before: Cursor | None = None,
    channels: Sequence[str] = (),
    types: Sequence[str] = (),
    business_units: Sequence[str] = (),
) -> TimelinePage:
    """One page of a subject's timeline, newest first.

    Several keys give one timeline: a surviving customer and those merged into it.
    ``InvalidCursor`` if ``before`` is not a timeline's cursor.
    """
    keys = [subject_keys] if isinstance(subject_keys, str) else list(subject_keys)
    conditions = ["subject_key = ANY($1::text[])"]
    args: list[Any] = [keys]
    if before is not None:
        args += [before.at, *before.ties(2)]
        conditions.append("(occurred_at, source_system, message_id) < ($2, $3, $4)")
    if channels:
        args.append(list(channels))
        conditions.append(f"channel = ANY(${len(args)})")
    if types:
        args.append(list(types))
        conditions.append(f"type = ANY(${len(args)})")
    if business_units:
        args.append(list(business_units))
        conditions.append(f"business_unit = ANY(${len(args)})")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT message_id, source_system, business_unit, channel, type, occurred_at, summary, "
        f"payload::text AS payload, campaign_code FROM {TABLE} WHERE {' AND '.join(conditions)} "
        f"ORDER BY occurred_at DESC, source_system DESC, message_id DESC LIMIT ${len(args)}",
        *args,
    )
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    next_cursor = (
        Cursor(last["occurred_at"], last["source_system"], last["message_id"]).encode()
        if more and last is not None
        else None
    )
    return TimelinePage(entries=[dict(r) for r in page], next_cursor=next_cursor)


async def has_entries(conn: Queryable, subject_key: str) -> bool:
    """Has the timeline anything about this subject?"""
    found: bool = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE subject_key = $1)", subject_key
    )
    return found


async def count_rows(conn: Queryable) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {TABLE}")
    return value
