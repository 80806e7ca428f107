"""Customers with events of every catalogue type, and scans for their personal values:
for the erasure, export and retention tests (issue 14)."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import find

from events import Subject, Touchpoint, from_mapping
from events.catalogue import EVENT_TYPES
from privacy.sealing import personal_payload_fields
from producers.demo import demo_events
from tests.unit.event_documents import documents

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
A, B = "cust-erase-a", "cust-keep-b"
EMAIL_A, EMAIL_B = "ann.erasable@example.com", "bob.kept@example.com"
WRITTEN_BY_ERASURE = {"customer.erased"}


def about(events: list[Touchpoint], customer: str, email: str) -> list[Touchpoint]:
    subject = Subject(customer_id=customer, email=email)
    return [
        e.model_copy(update={"subject": subject, "message_id": f"{customer}-{i}"})
        for i, e in enumerate(events)
    ]


@functools.cache
def _every_type(customer: str, email: str, seed: int) -> tuple[Touchpoint, ...]:
    """The demo's events of one person (every type), and one drawn from its contract for
    each type the demo does not show yet."""
    events = demo_events(1, seed=seed, now=NOW)
    shown = {e.type for e in events}
    for name in sorted(set(EVENT_TYPES) - WRITTEN_BY_ERASURE - shown):
        drawn = from_mapping(find(documents(name), lambda _: True))
        events.append(drawn.model_copy(update={"occurred_at": NOW - timedelta(days=1)}))
    events = about(events, customer, email)
    assert {e.type for e in events} == set(EVENT_TYPES) - WRITTEN_BY_ERASURE
    return tuple(events)


def every_type(customer: str, email: str, seed: int) -> list[Touchpoint]:
    return list(_every_type(customer, email, seed))


async def all_tables(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
        "AND (n.nspname = 'public' OR n.nspname LIKE 'touchlog\\_%') ORDER BY 1"
    )
    return [r["name"] for r in rows]


async def rows_holding(pool: asyncpg.Pool, values: set[str]) -> dict[str, list[str]]:
    """Which of ``values`` some row of each table holds (the row cast to text)."""
    found: dict[str, list[str]] = {}
    for table in await all_tables(pool):
        hits = await pool.fetch(
            f"SELECT v FROM unnest($1::text[]) v WHERE EXISTS "
            f"(SELECT 1 FROM {table} t WHERE strpos(t::text, v) > 0) ORDER BY v",
            sorted(values),
        )
        if hits:
            found[table] = [r["v"] for r in hits]
    return found


def _strings_in(value: Any, found: set[str], shortest: int = 0) -> None:
    """Every string in a JSON-able value (at least ``shortest`` characters), into ``found``."""
    if isinstance(value, str):
        if len(value) >= shortest:
            found.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings_in(v, found, shortest)
    elif isinstance(value, list):
        for v in value:
            _strings_in(v, found, shortest)


def strings(events: list[Touchpoint], *, personal: bool = True) -> set[str]:
    """Every string in the events (``personal=False``: outside their personal fields)."""
    found: set[str] = set()
    for event in events:
        dumped = event.model_dump(mode="json")
        if not personal:
            del dumped["subject"]
            for name in personal_payload_fields(event.type):
                dumped["payload"].pop(name, None)
        _strings_in(dumped, found)
    return found


def personal_values(events: list[Touchpoint]) -> set[str]:
    """The strings (6 characters or more) in the events' personal payload fields."""
    found: set[str] = set()
    for event in events:
        payload = event.payload.model_dump(mode="json")
        for name in personal_payload_fields(event.type):
            _strings_in(payload.get(name), found, shortest=6)
    return found


async def timeline_of(pool: asyncpg.Pool, customer: str) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT message_id, type, summary, payload FROM timeline_v1 WHERE subject_key = $1",
        customer,
    )
    return {r["message_id"]: dict(r) | {"payload": json.loads(r["payload"])} for r in rows}
