"""What marketing reads of the audiences: definitions, consented member lists, who took one.

A member is listed for a channel only while the audience's purpose is granted on it (and
not expired now) and no complaint of theirs is open; a row holds what the channel needs
(``membership.CHANNEL_FIELDS``), nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.audiences.postgres import DEFINITIONS, LIST_AUDIT, MEMBERS
from projections.audiences.rules import Audiences
from projections.db import Queryable

_DETAIL = {"email": "email", "sms": "phone", "phone": "phone", "mail": "address"}


async def live_definitions(conn: Queryable) -> Audiences | None:
    """The definitions the live version applies (None before its first batch)."""
    try:
        document = await conn.fetchval(f"SELECT document::text FROM {DEFINITIONS}")
    except asyncpg.UndefinedTableError:  # the audiences stage never ran here
        return None
    return None if document is None else Audiences.model_validate_json(document)


@dataclass(frozen=True, slots=True)
class MemberPage:
    members: list[dict[str, Any]]
    next_after: str | None


async def member_page(
    conn: Queryable, audience: str, channel: str, after: str | None, limit: int
) -> MemberPage:
    """Members contactable on ``channel``, by customer id, after ``after``."""
    rows = await conn.fetch(
        f"SELECT customer_id, name::text AS name, contact -> $2 AS detail FROM {MEMBERS} "
        "WHERE audience = $1 AND member AND NOT open_complaint AND contact ? $2 "
        "AND consented ? $2 "
        "AND (consented ->> $2 IS NULL OR (consented ->> $2)::timestamptz > now()) "
        "AND customer_id > $3 ORDER BY customer_id LIMIT $4",
        audience,
        channel,
        after or "",
        limit + 1,
    )
    page = [_member(r, channel) for r in rows[:limit]]
    more = len(rows) > limit
    return MemberPage(page, page[-1]["customer_id"] if more and page else None)


def _member(row: Any, channel: str) -> dict[str, Any]:
    member: dict[str, Any] = {"customer_id": row["customer_id"], "name": json.loads(row["name"])}
    if channel in _DETAIL:
        member[_DETAIL[channel]] = json.loads(row["detail"])
    return member


async def record_taken(
    conn: Queryable, who: str, role: str, audience: str, channel: str, form: str, customers: int
) -> int:
    """Who took which list, how, and how many customers it held."""
    taken: int = await conn.fetchval(
        f"INSERT INTO {LIST_AUDIT} (who, role, audience, channel, format, customers) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        who,
        role,
        audience,
        channel,
        form,
        customers,
    )
    return taken


async def lists_taken(conn: Queryable, audience: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, at, who, role, audience, channel, format, customers FROM {LIST_AUDIT} "
        "WHERE $1::text IS NULL OR audience = $1 ORDER BY id DESC LIMIT 500",
        audience,
    )
    return [dict(r) for r in rows]
