"""Acceptance: consent revoked → no marketing trigger reaches the topic or a webhook, and
the suppression is recorded for managers. The whole path: faust worker → trigger topics →
trigger store (PostgreSQL) → webhook dispatcher → a real HTTP receiver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from consumers.webhooks import WebhookDispatcher
from projections.triggers import Kind, Suppression
from tests.factories import BASE_TIME
from tests.integration.test_webhooks import FAST, Receiver, serving, subscriber
from tests.integration.trigger_worker_support import PARTITIONS, TriggerWorld
from tests.triggers_support import consent, purchase, survey, touchpoint
from tests.waiting import eventually
from touchlog import bootstrap
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {name: jumper-to-jacket, type: cross_sell, bought: jumpers, offer: jackets, within_days: 30}
  - {name: unhappy-call-back, type: survey_follow_up}
"""


@contextlib.asynccontextmanager
async def delivering(
    world: TriggerWorld, pool: asyncpg.Pool, receiver: Receiver
) -> AsyncIterator[None]:
    """The trigger store and the webhook dispatcher, as ``touchlog up`` runs them."""
    settings = Settings(
        kafka_bootstrap_servers=world.bootstrap,
        kafka_idempotence=False,
        topic_triggers=world.names["triggers"],
        topic_triggers_suppressed=world.names["suppressed"],
        consumer_group=f"{world.app_id}-store",
        partitions=PARTITIONS,
    )
    endpoints = bootstrap.Endpoints(world.bootstrap, "", False, True, False)
    await bootstrap.create_tables(pool)
    subscribers = [subscriber("crm", receiver.url)]
    runners = bootstrap.trigger_store_runners(
        settings, endpoints, pool, subscribers, list(range(PARTITIONS))
    )
    dispatcher = WebhookDispatcher(pool, subscribers, FAST)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    tasks.append(asyncio.create_task(dispatcher.run(stop)))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_revoked_consent_reaches_neither_topic_nor_webhook_and_is_recorded(
    world: TriggerWorld, pool: asyncpg.Pool
) -> None:
    await world.create_topics()
    t0 = BASE_TIME

    def ev(customer: str, days: float, kind: str, payload: dict[str, object], **kw: str):
        return customer, touchpoint(kind, customer, t0 + timedelta(days=days), payload, **kw)

    await world.publish(
        [
            ev("ann", 0, "consent.changed", consent("granted"), email="ann@example.com"),
            ev("bob", 0, "consent.changed", consent("granted"), email="bob@example.com"),
            ev("bob", 0.5, "consent.changed", consent("revoked")),
            ev("ann", 1, "purchase.completed", purchase("jumpers")),
            ev("bob", 1, "purchase.completed", purchase("jumpers")),
            ev("bob", 2, "survey.responded", survey(1, 2)),
        ]
    )
    world.start(RULES)
    async with serving(Receiver()) as receiver, delivering(world, pool, receiver):
        await eventually(world.triggers, lambda ts: len(ts) == 1, timeout=90, what="call-back")
        await world.tick(t0 + timedelta(days=31, hours=1))
        rows = await eventually(
            lambda: pool.fetch("SELECT * FROM triggers_v1 ORDER BY customer_id, rule"),
            lambda rs: len(rs) == 3,
            what="three decisions stored",
        )
        # Everything not suppressed reaches the receiver; then nothing more is on its way.
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'"
            ),
            lambda n: n == 0,
            what="deliveries done",
        )
    stored = {(r["customer_id"], r["rule"]): r for r in rows}
    held = stored[("bob", "jumper-to-jacket")]
    assert (held["status"], held["suppressed"]) == ("suppressed", Suppression.NO_CONSENT.value)
    assert "email: revoked" in held["suppressed_reason"]
    assert stored[("ann", "jumper-to-jacket")]["status"] == "open"
    assert stored[("bob", "unhappy-call-back")]["status"] == "open", "service needs no consent"

    on_topic = await world.triggers()
    assert not [t for t in on_topic if t.customer_id == "bob" and t.kind is Kind.MARKETING]
    delivered = {(t.customer_id, t.rule) for _, _, t in receiver.accepted}
    assert delivered == {("ann", "jumper-to-jacket"), ("bob", "unhappy-call-back")}
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE trigger_id = $1", held["trigger_id"]
        )
        == 0
    )
