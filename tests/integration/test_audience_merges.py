"""Audiences follow a merge and a split in PostgreSQL, batch by batch as the runner applies
them: B's memberships exit (each exit once in the outbox, with its deterministic id), A is
evaluated on the merged profile (its list row shows what the family knows), an event of B
arriving after the merge counts for A; a split gives B back its own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from events import Touchpoint
from events.resolved import Resolved
from projections import versions
from projections.audiences import parse_audiences
from projections.audiences.postgres import MEMBERS, SCHEMA, SHARED_SCHEMA, AudienceView
from tests.factories import BASE_TIME
from tests.profile_support import touch
from tests.unit.test_audience_membership import reference_members

pytestmark = pytest.mark.integration

RULES = parse_audiences(
    {
        "audiences": [
            {"name": "email-only", "channels": ["email"]},
            {"name": "paris", "channels": ["mail"], "when": {"postcode_area": ["75"]}},
            {
                "name": "gardeners",
                "channels": ["email", "mail"],
                "when": {"categories_bought": {"any_of": ["garden"]}},
            },
        ]
    }
)
A, B = "cust-a", "cust-b"


def _at(hours: int) -> Any:
    return BASE_TIME + timedelta(hours=hours)


def _consent(customer: str, hours: int, channel: str) -> Touchpoint:
    payload = {
        "purpose": "marketing",
        "channel": channel,
        "status": "granted",
        "legal_basis": "consent",
        "captured_via": "web",
    }
    mid = f"{customer}-{channel}-{hours}"
    return touch("consent.changed", payload, at=_at(hours), message_id=mid, customer=customer)


def _profile(customer: str, hours: int, **fields: Any) -> Touchpoint:
    mid = f"{customer}-p{hours}"
    return touch("profile.updated", fields, at=_at(hours), message_id=mid, customer=customer)


def _garden(customer: str, hours: int) -> Touchpoint:
    payload = {
        "order_id": f"O-{customer}",
        "lines": [{"sku": "S", "category": "garden", "quantity": 1, "unit_price": "10.00"}],
        "currency": "EUR",
        "total": "10.00",
        "payment_method": "card",
    }
    mid = f"{customer}-o{hours}"
    return touch("purchase.completed", payload, at=_at(hours), message_id=mid, customer=customer)


MERGED = touch(
    "customer.merged",
    {
        "surviving_customer_id": A,
        "merged_customer_ids": [B],
        "reason": "same person",
        "merged_by": "Ann",
    },
    at=_at(10),
    message_id="merge-1",
    customer=A,
)
SPLIT = touch(
    "customer.split",
    {
        "original_customer_id": A,
        "new_customer_id": B,
        "identifiers_moved": [{"type": "email", "value": "b@example.com"}],
        "reason": "two people",
        "split_by": "Ann",
    },
    at=_at(20),
    message_id="split-1",
    customer=A,
    channel="app",
)
PARIS = {
    "addresses": [
        {"lines": ["1 rue X"], "locality": "Paris", "postal_code": "75001", "country": "FR"}
    ]
}
EMAIL = {"emails": [{"use": "personal", "address": "b@example.com", "primary": True}]}
A_EVENTS = [_profile(A, 0, **PARIS), _consent(A, 1, "mail")]
B_EVENTS = [_profile(B, 0, **EMAIL), _consent(B, 1, "email"), _consent(B, 2, "mail")]
B_LATE = _garden(B, 12)  # B's partition lags: it arrives after the merge


async def _apply(pool: asyncpg.Pool, view: AudienceView, batch: Sequence[Resolved]) -> None:
    async with pool.acquire() as conn:
        live = await versions.ensure_live(conn, MEMBERS, (SCHEMA,), (SHARED_SCHEMA,))
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {versions.search_path(MEMBERS, live)}")
            await view.write(conn, view.changes(batch))


async def _members(pool: asyncpg.Pool) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {A: set(), B: set()}
    for r in await pool.fetch(f"SELECT audience, customer_id FROM {MEMBERS} WHERE member"):
        found[r["customer_id"]].add(r["audience"])
    return found


def _resolved(customer: str, events: list[Touchpoint]) -> list[Resolved]:
    return [Resolved(customer_id=customer, event=e) for e in events]


async def test_a_merge_moves_membership_to_the_survivor_and_a_split_gives_it_back(
    pool: asyncpg.Pool,
) -> None:
    view = AudienceView(RULES)
    await _apply(pool, view, _resolved(A, A_EVENTS) + _resolved(B, B_EVENTS))
    assert await _members(pool) == {A: {"paris"}, B: {"email-only"}}

    await _apply(pool, view, _resolved(A, [MERGED]))
    merged = reference_members(RULES, A_EVENTS + B_EVENTS)
    assert merged == {"paris", "email-only"}
    assert await _members(pool) == {A: merged, B: set()}
    row = await pool.fetchrow(
        f"SELECT contact, consented FROM {MEMBERS} WHERE audience = 'email-only' "
        "AND customer_id = $1",
        A,
    )
    assert row is not None
    assert json.loads(row["contact"]) == {"email": "b@example.com"}  # B's, now A's family's
    assert set(json.loads(row["consented"])) == {"email"}

    await _apply(pool, view, _resolved(B, [B_LATE]))
    assert await _members(pool) == {
        A: reference_members(RULES, [*A_EVENTS, *B_EVENTS, B_LATE]),
        B: set(),
    }
    assert "gardeners" in (await _members(pool))[A]

    await _apply(pool, view, _resolved(A, [MERGED]))  # re-published: nothing changes
    await _apply(pool, view, _resolved(A, [SPLIT]))
    assert await _members(pool) == {
        A: reference_members(RULES, A_EVENTS),
        B: reference_members(RULES, [*B_EVENTS, B_LATE]),
    }

    outbox = await pool.fetch(
        "SELECT id, record FROM audience_outbox_v1 ORDER BY seq",
    )
    records = [json.loads(r["record"]) for r in outbox]
    assert [(r["id"], r["type"], r["caused_by"]) for r in records if r["customer_id"] == B] == [
        ("email-only:cust-b:1", "audience.entered", "test-system/cust-b-email-1"),
        ("email-only:cust-b:2", "audience.exited", "test-system/merge-1"),
        ("email-only:cust-b:3", "audience.entered", "test-system/split-1"),
        ("gardeners:cust-b:1", "audience.entered", "test-system/split-1"),
    ]
    assert len({r["id"] for r in records}) == len(records)
    assert await pool.fetchval("SELECT count(*) FROM audience_families_v1") == 0
