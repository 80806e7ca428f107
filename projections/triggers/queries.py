"""Reading stored triggers, and what people do to them (acknowledge, close)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from projections.cursor import Cursor
from projections.db import Connection, Queryable
from projections.triggers.lifecycle import Action, Status, next_status
from projections.triggers.model import Audience, Kind
from projections.triggers.postgres import ACTIONS, ATTEMPTS, DELIVERIES, TABLE


class UnknownTrigger(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class TriggerFilter:
    """Empty sets mean any."""

    customer_id: str | None = None
    rules: Set[str] = field(default_factory=frozenset)
    statuses: Set[Status] = field(default_factory=frozenset)
    kinds: Set[Kind] = field(default_factory=frozenset)
    audiences: Set[Audience] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class TriggerPage:
    triggers: list[dict[str, Any]]
    next_cursor: str | None


_SELECT = (
    "SELECT trigger_id, customer_id, rule, rule_type, kind, audience, channel, reason, "
    "evidence, offer, created_at, expires_at, suppressed, suppressed_reason, status, "
    f"status_changed_at FROM {TABLE}"
)


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    row["evidence"] = list(row["evidence"])
    return row


async def list_triggers(
    conn: Queryable, where: TriggerFilter, *, limit: int = 50, after: Cursor | None = None
) -> TriggerPage:
    """One page of triggers matching ``where``, newest first (``InvalidCursor`` if ``after``
    is not a trigger listing's cursor)."""
    conditions: list[str] = []
    args: list[Any] = []

    def condition(sql: str, value: Any) -> None:
        args.append(value)
        conditions.append(sql.replace("$?", f"${len(args)}"))

    if where.customer_id is not None:
        condition("customer_id = $?", where.customer_id)
    for column, values in (
        ("rule", where.rules),
        ("status", where.statuses),
        ("kind", where.kinds),
        ("audience", where.audiences),
    ):
        if values:
            condition(f"{column} = ANY($?::text[])", sorted(str(v) for v in values))
    if after is not None:
        args += [after.at, *after.ties(1)]
        conditions.append(f"(created_at, trigger_id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"{_SELECT} {'WHERE ' + ' AND '.join(conditions) if conditions else ''} "
        f"ORDER BY created_at DESC, trigger_id DESC LIMIT ${len(args)}",
        *args,
    )
    page = [_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = (
        Cursor(page[-1]["created_at"], page[-1]["trigger_id"]).encode() if more and page else None
    )
    return TriggerPage(page, next_cursor)


async def has_triggers(conn: Queryable, customer_id: str) -> bool:
    """Was any trigger raised for this customer?"""
    found: bool = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE customer_id = $1)", customer_id
    )
    return found


async def get_trigger(conn: Queryable, trigger_id: str) -> dict[str, Any]:
    """One trigger; ``UnknownTrigger`` if there is none with this id."""
    row = await conn.fetchrow(f"{_SELECT} WHERE trigger_id = $1", trigger_id)
    if row is None:
        raise UnknownTrigger(f"no trigger {trigger_id}")
    return _row(row)


async def actions_of(conn: Queryable, trigger_id: str) -> list[dict[str, Any]]:
    """What people did to a trigger, oldest first."""
    rows = await conn.fetch(
        f"SELECT action, actor, role, note, at FROM {ACTIONS} WHERE trigger_id = $1 "
        "ORDER BY at, id",
        trigger_id,
    )
    return [dict(r) for r in rows]


async def lock_trigger(conn: Connection, trigger_id: str) -> dict[str, Any]:
    """The trigger, locked until the end of the transaction (``UnknownTrigger``)."""
    row = await conn.fetchrow(f"{_SELECT} WHERE trigger_id = $1 FOR UPDATE", trigger_id)
    if row is None:
        raise UnknownTrigger(f"no trigger {trigger_id}")
    return _row(row)


async def record_action(
    conn: Connection,
    trigger: dict[str, Any],
    action: Action,
    actor: str,
    role: str,
    note: str | None,
) -> dict[str, Any]:
    """Move a locked trigger on (``InvalidTransition`` if it cannot be) and log who did it."""
    status = next_status(Status(trigger["status"]), action)
    at = await conn.fetchval(
        f"INSERT INTO {ACTIONS} (trigger_id, action, actor, role, note) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING at",
        trigger["trigger_id"],
        status.value,
        actor,
        role,
        note,
    )
    await conn.execute(
        f"UPDATE {TABLE} SET status = $2, status_changed_at = $3 WHERE trigger_id = $1",
        trigger["trigger_id"],
        status.value,
        at,
    )
    return {**trigger, "status": status.value, "status_changed_at": at}


async def delivery_log(conn: Queryable, trigger_id: str) -> list[dict[str, Any]]:
    """Each subscriber's delivery of a trigger, with every attempt, oldest first."""
    deliveries = await conn.fetch(
        f"SELECT subscriber, status, attempts, next_attempt_at, last_error, delivered_at, "
        f"enqueued_at FROM {DELIVERIES} WHERE trigger_id = $1 ORDER BY subscriber",
        trigger_id,
    )
    attempts = await conn.fetch(
        f"SELECT subscriber, attempt, at, http_status, error, duration_ms FROM {ATTEMPTS} "
        "WHERE trigger_id = $1 ORDER BY subscriber, attempt",
        trigger_id,
    )
    log = [{**dict(d), "log": []} for d in deliveries]
    by_subscriber = {d["subscriber"]: d for d in log}
    for a in attempts:
        delivery = by_subscriber.get(a["subscriber"])
        if delivery is not None:
            delivery["log"].append({k: v for k, v in dict(a).items() if k != "subscriber"})
    return log
