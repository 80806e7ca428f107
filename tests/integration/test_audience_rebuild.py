"""A changed audience definition is rebuilt like any view: the live version keeps the
definitions it was built with until a rebuild with the new ones is switched live; then
the lists follow the new definitions, and no change already on ``touchlog.audiences`` is
published again.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs

from consumers.publishing import publish_all
from events.resolved import encode_resolved
from projections.audiences import parse_audiences, queries
from tests.factories import BASE_TIME
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints
from tests.profile_support import touch
from tests.waiting import eventually
from touchlog import bootstrap, rebuilds
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

BEFORE = {"audiences": [{"name": "email-only", "channels": ["email"]}]}
AFTER = {
    "audiences": [
        {"name": "email-only", "channels": ["email"]},
        {
            "name": "gardeners",
            "channels": ["email"],
            "when": {"categories_bought": {"any_of": ["garden"]}},
        },
    ]
}


def _records(first: int, last: int) -> list[tuple[bytes, bytes]]:
    records = []
    for n in range(first, last):
        customer = f"cust-{n:02d}"
        consent = {
            "purpose": "marketing",
            "channel": "email",
            "status": "granted",
            "legal_basis": "consent",
            "captured_via": "call",
        }
        line = {
            "sku": "S",
            "category": "garden" if n % 2 else "kitchen",
            "quantity": 1,
            "unit_price": "5.00",
        }
        purchase = {
            "order_id": f"O-{n}",
            "lines": [line],
            "currency": "EUR",
            "total": "5.00",
            "payment_method": "card",
        }
        profile = {"emails": [{"use": "personal", "address": f"{customer}@example.com"}]}
        stated = [
            ("profile.updated", profile),
            ("consent.changed", consent),
            ("purchase.completed", purchase),
        ]
        for i, (kind, payload) in enumerate(stated):
            event = touch(
                kind,
                payload,
                at=BASE_TIME + timedelta(hours=i),
                message_id=f"{customer}-{i}",
                customer=customer,
            )
            records.append((customer.encode(), encode_resolved(customer, event)))
    return records


async def _publish(bootstrap_servers: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        await publish_all(producer, topic, records)
    finally:
        await producer.stop()


async def test_a_changed_definition_takes_effect_through_a_rebuild(
    broker: EmbeddedBroker, unique: str, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    audiences_file = tmp_path / "audiences.json"
    audiences_file.write_text(json.dumps(BEFORE))
    settings = Settings(
        topic_resolved=f"test.{unique}.resolved",
        topic_deadletter=f"test.{unique}.deadletter",
        topic_audiences=f"test.{unique}.audiences",
        consumer_group=f"g-{unique}",
        audiences_file=audiences_file,
    )
    await ensure_topics(
        broker.bootstrap_servers, [settings.topic_resolved, settings.topic_audiences], partitions=6
    )
    await bootstrap.create_tables(pool)
    await _publish(broker.bootstrap_servers, settings.topic_resolved, _records(0, 20))
    ends = endpoints(broker.bootstrap_servers, database_url)

    async def pending() -> int:
        return int(
            await pool.fetchval("SELECT count(*) FROM audience_outbox_v1 WHERE NOT published")
        )

    async def listed(audience: str) -> set[str]:
        page = await queries.member_page(pool, audience, "email", None, 1000)
        return {m["customer_id"] for m in page.members}

    stop = asyncio.Event()
    stage = asyncio.create_task(
        bootstrap.run_stages(settings, ends, pool, stop, ("audiences",), list(range(6)))
    )
    try:
        await eventually(
            lambda: listed("email-only"), lambda ids: len(ids) == 20, what="20 members"
        )
    finally:
        stop.set()
        await stage

    # the stage restarts with the changed file: the live version keeps what it was built with
    audiences_file.write_text(json.dumps(AFTER))
    stop = asyncio.Event()
    with capture_logs() as logs:
        stage = asyncio.create_task(
            bootstrap.run_stages(settings, ends, pool, stop, ("audiences",), list(range(6)))
        )
        try:
            await _publish(broker.bootstrap_servers, settings.topic_resolved, _records(20, 24))
            await eventually(
                lambda: listed("email-only"), lambda ids: len(ids) == 24, what="24 members"
            )
        except BaseException:
            stop.set()
            await stage
            raise
    try:
        assert await queries.live_definitions(pool) == parse_audiences(BEFORE)
        assert any(e["event"] == "audience_definitions_differ" for e in logs)

        async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as own:
            rebuilt = await rebuilds.rebuild(settings, ends, own, "audiences", switch=True)
        assert (rebuilt.version, rebuilt.switched_from) == (2, 1)
        assert await queries.live_definitions(pool) == parse_audiences(AFTER)
        assert await listed("gardeners") == {f"cust-{n:02d}" for n in range(1, 24, 2)}
        assert len(await listed("email-only")) == 24
        await eventually(pending, lambda n: n == 0, what="the new version's outbox published")
    finally:
        stop.set()
        await stage

    changes = [
        json.loads(r.value)
        for r in await read_topic(broker.bootstrap_servers, settings.topic_audiences)
    ]
    counted = Counter(c["id"] for c in changes)
    assert set(counted.values()) == {1}  # nothing published twice, across versions
    by_audience = Counter(c["audience"] for c in changes)
    assert by_audience == {"email-only": 24, "gardeners": 12}
