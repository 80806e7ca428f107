"""The access audit: every read of service or restricted data, who made it and why.

The read side's own table, and its one adapter (the only SQL in ``api/``). Written in the
transaction that reads the data, before the data leaves; queried by managers. Rows are
only ever added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.db import Queryable

TABLE = "access_audit_v1"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    who          text        NOT NULL,
    role         text        NOT NULL,
    customer_id  text        NOT NULL,
    endpoint     text        NOT NULL,
    fields       text[]      NOT NULL,
    reason       text,
    as_of        timestamptz
);
CREATE INDEX IF NOT EXISTS {TABLE}_customer ON {TABLE} (customer_id, at DESC);
CREATE INDEX IF NOT EXISTS {TABLE}_at ON {TABLE} (at DESC);
"""


@dataclass(frozen=True, slots=True)
class Access:
    who: str
    role: str
    customer_id: str
    endpoint: str
    fields: Sequence[str]
    reason: str | None = None
    as_of: datetime | None = None


async def record(conn: Queryable, access: Access) -> int | None:
    """Record one read that served service or restricted fields; its id (None, and nothing
    recorded, if it served none)."""
    if not access.fields:
        return None
    audit_id: int = await conn.fetchval(
        f"INSERT INTO {TABLE} (who, role, customer_id, endpoint, fields, reason, as_of) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        access.who,
        access.role,
        access.customer_id,
        access.endpoint,
        list(access.fields),
        access.reason,
        access.as_of,
    )
    return audit_id


@dataclass(frozen=True, slots=True)
class AccessFilter:
    """Which recorded reads to list; None means any."""

    customer_id: str | None = None
    who: str | None = None
    since: datetime | None = None
    before_id: int | None = None


async def accesses(
    conn: Queryable, where: AccessFilter, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Recorded reads, newest first, filtered."""
    rows = await conn.fetch(
        f"SELECT id, at, who, role, customer_id, endpoint, fields, reason, as_of FROM {TABLE} "
        "WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR who = $2) "
        "AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::bigint IS NULL OR id < $4) "
        "ORDER BY id DESC LIMIT $5",
        where.customer_id,
        where.who,
        where.since,
        where.before_id,
        limit,
    )
    return [dict(r) for r in rows]
