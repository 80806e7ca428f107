"""The webhook delivery queue in PostgreSQL: claim what is due, record each attempt.

A claim leases a delivery (its ``next_attempt_at`` moves past the request's timeout)
and counts the attempt, in one statement with ``FOR UPDATE SKIP LOCKED``: dispatchers
running side by side never claim the same delivery, and one that dies mid-request
leaves it to be retried once the lease is over. Receivers dedupe by trigger id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from projections.db import Queryable
from projections.triggers.model import Trigger
from projections.triggers.postgres import ATTEMPTS, DELIVERIES, TABLE


@dataclass(frozen=True, slots=True)
class Claim:
    trigger_id: str
    subscriber: str
    attempt: int
    """1 for the first attempt."""
    trigger: Trigger | None
    """None if the trigger row is missing (a rebuild in progress)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    duration_ms: float
    http_status: int | None = None
    error: str | None = None


_CLAIM = f"""
WITH due AS (
    SELECT trigger_id, subscriber FROM {DELIVERIES}
    WHERE status = 'pending' AND next_attempt_at <= now() AND subscriber = ANY($1::text[])
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE {DELIVERIES} d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $3)
FROM due
WHERE d.trigger_id = due.trigger_id AND d.subscriber = due.subscriber
RETURNING d.trigger_id, d.subscriber, d.attempts
"""
_TRIGGER_COLUMNS = (
    "trigger_id, rule, rule_type, customer_id, kind, audience, channel, reason, evidence, "
    "created_at, expires_at, offer, suppressed, suppressed_reason"
)


async def claim_due(
    conn: Queryable, subscribers: Sequence[str], *, limit: int, lease_s: float
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries to these subscribers, oldest due first."""
    rows = await conn.fetch(_CLAIM, list(subscribers), limit, lease_s)
    if not rows:
        return []
    ids = sorted({r["trigger_id"] for r in rows})
    triggers = {
        t["trigger_id"]: Trigger.model_validate({**dict(t), "evidence": tuple(t["evidence"])})
        for t in await conn.fetch(
            f"SELECT {_TRIGGER_COLUMNS} FROM {TABLE} WHERE trigger_id = ANY($1::text[])", ids
        )
    }
    return [
        Claim(r["trigger_id"], r["subscriber"], r["attempts"], triggers.get(r["trigger_id"]))
        for r in rows
    ]


_LOG = (
    f"INSERT INTO {ATTEMPTS} (trigger_id, subscriber, attempt, at, http_status, error, "
    "duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
)
# Only the holder of the latest claim settles a delivery (a dispatcher whose lease ran out
# may still be finishing an older attempt).
_SETTLE = (
    f"UPDATE {DELIVERIES} SET status = $4, last_error = $5, delivered_at = $6, "
    "next_attempt_at = CASE WHEN $7::float8 IS NULL THEN next_attempt_at "
    "ELSE now() + make_interval(secs => $7::float8) END "
    "WHERE trigger_id = $1 AND subscriber = $2 AND attempts = $3 AND status = 'pending'"
)


async def record_attempt(
    pool: asyncpg.Pool, claim: Claim, attempt: Attempt, *, retry_in_s: float | None
) -> str:
    """Log an attempt and settle the delivery: ``delivered`` on a 2xx, else ``pending``
    again in ``retry_in_s`` seconds, or ``failed`` when there is none. The status."""
    delivered = attempt.http_status is not None and 200 <= attempt.http_status < 300
    status = "delivered" if delivered else "pending" if retry_in_s is not None else "failed"
    error = None if delivered else attempt.error or f"HTTP {attempt.http_status}"
    args: tuple[Any, ...] = (claim.trigger_id, claim.subscriber, claim.attempt)
    async with pool.acquire() as tx, tx.transaction():
        await tx.execute(_LOG, *args, attempt.at, attempt.http_status, error, attempt.duration_ms)
        await tx.execute(
            _SETTLE,
            *args,
            status,
            error,
            attempt.at if delivered else None,
            None if delivered else retry_in_s,
        )
    return status


async def seconds_to_next_due(conn: Queryable, subscribers: Sequence[str]) -> float | None:
    """How long until the next pending delivery to these subscribers is due, if any."""
    wait: float | None = await conn.fetchval(
        f"SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM {DELIVERIES} "
        "WHERE status = 'pending' AND subscriber = ANY($1::text[])",
        list(subscribers),
    )
    return wait
