"""The timeline's PostgreSQL tables and queries.

Rows are written by ``COPY`` into a per-transaction staging table, then moved
with ``INSERT … ON CONFLICT DO NOTHING``: COPY speed, and applying an event a
second time is a no-op.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import Touchpoint
from events.resolved import Resolved
from projections.db import Connection, Queryable, copy_insert
from projections.timeline.projection import project_all

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
"""

_COLUMNS = (
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


class TimelineView:
    """The timeline as the projection runner sees it: create tables, apply a batch."""

    name = TABLE

    schema = (SCHEMA,)

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> list[tuple[object, ...]]:
        """COPY-ready rows (pure: runs while the previous batch is being written)."""
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
            for r in project_all(events)
        ]

    async def write(self, conn: Connection, rows: list[tuple[object, ...]]) -> None:
        await copy_insert(conn, TABLE, _COLUMNS, rows)

    async def apply(self, conn: Connection, events: Sequence[Touchpoint | Resolved]) -> None:
        """Project and write in one go (tests and one-off loads)."""
        await self.write(conn, self.changes(events))


# --- reads -----------------------------------------------------------------------------


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after which (older than which) the next page starts."""

    occurred_at: datetime
    source_system: str
    message_id: str

    def encode(self) -> str:
        raw = "\x1f".join((self.occurred_at.isoformat(), self.source_system, self.message_id))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            occurred_at, source_system, message_id = raw.split("\x1f")
            return cls(datetime.fromisoformat(occurred_at), source_system, message_id)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor("not a cursor returned by this API") from exc


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
) -> TimelinePage:
    """One page of a subject's timeline, newest first.

    Several keys give one timeline: a surviving customer and those merged into it.
    """
    keys = [subject_keys] if isinstance(subject_keys, str) else list(subject_keys)
    conditions = ["subject_key = ANY($1::text[])"]
    args: list[Any] = [keys]
    if before is not None:
        args += [before.occurred_at, before.source_system, before.message_id]
        conditions.append("(occurred_at, source_system, message_id) < ($2, $3, $4)")
    if channels:
        args.append(list(channels))
        conditions.append(f"channel = ANY(${len(args)})")
    if types:
        args.append(list(types))
        conditions.append(f"type = ANY(${len(args)})")
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


async def count_rows(conn: Queryable) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {TABLE}")
    return value
