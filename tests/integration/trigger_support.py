"""Triggers for tests: built as the rules engine would, published or stored."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from projections import versions
from projections.triggers.model import Audience, Kind, Suppression, Trigger, trigger_id
from projections.triggers.postgres import TriggerStore

BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_evidence = itertools.count()


def make_trigger(
    rule: str = "cross-sell-tv",
    customer_id: str = "cust-1",
    *,
    kind: Kind = Kind.MARKETING,
    audience: Audience | None = None,
    suppressed: Suppression | None = None,
    created_at: datetime = BASE,
    channel: str | None = "email",
) -> Trigger:
    evidence = (f"evt-{next(_evidence)}",)
    trigger = Trigger(
        trigger_id=trigger_id(rule, customer_id, evidence),
        rule=rule,
        rule_type="cross_sell" if kind is Kind.MARKETING else "service_reminder",
        customer_id=customer_id,
        kind=kind,
        audience=audience or (Audience.MARKETING if kind is Kind.MARKETING else Audience.SERVICE),
        channel=channel,
        reason=f"{rule} for {customer_id}",
        evidence=evidence,
        created_at=created_at,
        expires_at=created_at + timedelta(days=30),
        offer="soundbar" if kind is Kind.MARKETING else None,
    )
    if suppressed is not None:
        trigger = trigger.suppress(suppressed, f"suppressed: {suppressed.value}")
    return trigger


async def publish(bootstrap: str, topic: str, triggers: Sequence[Trigger]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for t in triggers:
            await producer.send_and_wait(topic, t.encode(), key=t.customer_id.encode())
    finally:
        await producer.stop()


async def store(pool: asyncpg.Pool, triggers: Sequence[Trigger], view: TriggerStore) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await versions.ensure_live(conn, "triggers", view.schema, view.shared_schema)
        await view.apply(conn, triggers)
