"""The access audit: every read of a customer, who made it, as which role, when, what
(the action and the route), which customers, which tier and why.

The read side's own table, and its one adapter (the only SQL in ``api/``). Written before
the data leaves, in the transaction that reads it where there is one; queried by managers
only. Rows are only ever added. What a rep searched for (a phone, an email, a name) is
never stored as typed: ``api.audit_masks`` keeps a masked form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events import Tier
from projections.db import Queryable

TABLE = "access_audit_v1"

# ``customer_ids``, ``tier``, ``route`` and ``detail`` came with the complete audit:
# added in place (the table is the read side's record, not a view rebuilt from the log).
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
ALTER TABLE {TABLE} ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS customer_ids text[] NOT NULL DEFAULT '{{}}';
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS tier text NOT NULL DEFAULT 'service';
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS route text;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS detail jsonb;
CREATE INDEX IF NOT EXISTS {TABLE}_customer ON {TABLE} (customer_id, at DESC);
CREATE INDEX IF NOT EXISTS {TABLE}_customers ON {TABLE} USING gin (customer_ids);
CREATE INDEX IF NOT EXISTS {TABLE}_at ON {TABLE} (at DESC);
COMMENT ON TABLE {TABLE} IS
    'touchlog:personal customer=customer_id,customer_ids action=anonymise null=detail';
"""
"""Rows written before the complete audit recorded reads of the service tier or above
(hence the ``tier`` default) of one customer (``customer_id``, not ``customer_ids``)."""

ROUTE: ContextVar[str | None] = ContextVar("audited_route", default=None)
"""The route of the request being served (its template, ``/customers/{key}/timeline``):
set by the authentication dependencies, recorded with every read they allow."""

DEFAULT_REASONS = {"agent": "service", "manager": "service", "marketing": "marketing"}
"""Why a role reads a customer when it gives no reason: its everyday purpose."""


@dataclass(frozen=True, slots=True)
class Access:
    """One read: ``endpoint`` is the action (``lookup``, ``search``, ``timeline``,
    ``profile``, ``triggers``, ``export``, …), ``route`` the path asked for."""

    who: str
    role: str
    customer_id: str | None
    endpoint: str
    fields: Sequence[str]
    reason: str | None = None
    as_of: datetime | None = None
    customer_ids: Sequence[str] = ()
    tier: Tier = Tier.ESSENTIAL
    route: str | None = None
    detail: Mapping[str, Any] | None = field(default=None)


async def record(conn: Queryable, access: Access) -> int:
    """Record one read, whatever it served; its id."""
    first = [access.customer_id] if access.customer_id else []
    ids = list(dict.fromkeys([*first, *access.customer_ids]))
    audit_id: int = await conn.fetchval(
        f"INSERT INTO {TABLE} (who, role, customer_id, customer_ids, endpoint, route, tier, "
        "fields, reason, as_of, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) RETURNING id",
        access.who,
        access.role,
        ids[0] if ids else None,
        ids,
        access.endpoint,
        access.route or ROUTE.get(),
        access.tier.value,
        list(access.fields),
        access.reason or DEFAULT_REASONS.get(access.role),
        access.as_of,
        json.dumps(dict(access.detail)) if access.detail is not None else None,
    )
    return audit_id


async def record_access(
    conn: Queryable,
    *,
    actor: str,
    role: str,
    action: str,
    customer_ids: Sequence[str],
    tier: Tier | str,
    reason: str | None,
    detail: Mapping[str, Any] | None = None,
    route: str | None = None,
    fields: Sequence[str] = (),
) -> int:
    """Record a read made outside the API's read services (an export, a command): the
    same record, keyword by keyword. ``conn`` is a connection (inside the transaction that
    reads, so the record and the read commit together) or a pool. Its id."""
    return await record(
        conn,
        Access(
            actor,
            role,
            None,
            action,
            fields,
            reason,
            customer_ids=customer_ids,
            tier=Tier(tier),
            route=route,
            detail=detail,
        ),
    )


@dataclass(frozen=True, slots=True)
class AccessFilter:
    """Which recorded reads to list; None means any."""

    customer_id: str | None = None
    who: str | None = None
    since: datetime | None = None
    before_id: int | None = None


_COLUMNS = (
    "id, at, who, role, customer_id, customer_ids, endpoint, route, tier, fields, reason, "
    "as_of, detail"
)


async def accesses(
    conn: Queryable, where: AccessFilter, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Recorded reads, newest first, filtered (``customer_id``: any read that touched it)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {TABLE} "
        "WHERE ($1::text IS NULL OR customer_id = $1 OR customer_ids @> ARRAY[$1::text]) "
        "AND ($2::text IS NULL OR who = $2) "
        "AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::bigint IS NULL OR id < $4) "
        "ORDER BY id DESC LIMIT $5",
        where.customer_id,
        where.who,
        where.since,
        where.before_id,
        limit,
    )
    return [_row(r) for r in rows]


def _row(row: Any) -> dict[str, Any]:
    found = dict(row)
    if found["detail"] is not None:
        found["detail"] = json.loads(found["detail"])
    if not found["customer_ids"] and found["customer_id"]:
        found["customer_ids"] = [found["customer_id"]]
    return found


async def readers(conn: Queryable) -> list[dict[str, Any]]:
    """Who read service or restricted data, as which role, how often, and when last, per
    tier: for the data inventory."""
    rows = await conn.fetch(
        "SELECT a.who, a.role, a.tier, count(DISTINCT a.id) AS reads, "
        "count(DISTINCT c.customer) AS customers, max(a.at) AS last_read "
        f"FROM {TABLE} a LEFT JOIN LATERAL unnest(a.customer_ids) AS c (customer) ON true "
        "WHERE a.tier IN ('service', 'restricted') "
        "GROUP BY a.who, a.role, a.tier ORDER BY count(DISTINCT a.id) DESC, a.who, a.tier"
    )
    return [dict(r) for r in rows]


async def readers_by_type(conn: Queryable) -> list[dict[str, Any]]:
    """Who read service or restricted fields of each event type (from the timeline paths
    a read served, ``purchase.completed.total``), how often: for the data inventory."""
    rows = await conn.fetch(
        "SELECT substring(f FROM '^([a-z0-9_]+\\.[a-z0-9_]+)\\.') AS type, a.who, a.role, "
        "a.tier, count(DISTINCT a.id) AS reads "
        f"FROM {TABLE} a, unnest(a.fields) AS f "
        "WHERE a.tier IN ('service', 'restricted') "
        "AND substring(f FROM '^([a-z0-9_]+\\.[a-z0-9_]+)\\.') IS NOT NULL "
        "GROUP BY 1, a.who, a.role, a.tier ORDER BY 1, count(DISTINCT a.id) DESC"
    )
    return [dict(r) for r in rows]
