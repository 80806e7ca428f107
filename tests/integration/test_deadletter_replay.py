"""Events made poison by a bug are dead-lettered; after the fix, a replay applies them and
the view equals a run that never had the bug (issue 13, acceptance 3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers import checkpoints
from consumers.checkpoints import list_dead_letters
from consumers.replay import replay
from events import encode
from events.codec import TOUCHPOINTS
from projections.db import create_tables
from projections.timeline.postgres import TABLE, TimelineView
from tests.factories import make_event
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

REFUSED = ("poison-1", "poison-2", "poison-3")
ROWS = f"SELECT subject_key, source_system, message_id, occurred_at, type, channel, \
business_unit, summary, payload::text, campaign_code FROM {TABLE} ORDER BY 1, 2, 3"


async def _publish(bootstrap: str, topic: str) -> int:
    values = []
    for i in range(30):
        customer = f"cust-{i % 4}"
        message = REFUSED[i // 10] if i % 10 == 5 else f"ok-{i}"
        values.append(
            (customer.encode(), encode(make_event(customer=customer, message_id=message)))
        )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return len(values)


async def _project(pool: asyncpg.Pool, bootstrap: str, topics: dict[str, str], total: int) -> None:
    runner = make_runner(pool, bootstrap, topics)
    async with running(runner):
        await eventually(
            lambda: _done(runner), lambda n: n == total, what="every record read", timeout=30
        )


async def _done(runner) -> int:  # type: ignore[no-untyped-def]
    return int(runner.applied + runner.dead_lettered)


async def test_replay_after_the_fix_equals_a_run_without_the_bug(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    new_database: Callable[[], Awaitable[str]],
) -> None:
    bootstrap = broker.bootstrap_servers
    total = await _publish(bootstrap, topics["touchpoints"])
    async with pool.acquire() as conn:  # the bug: the view refuses three valid events
        await create_tables(conn, checkpoints.SCHEMA, *TimelineView.schema)
        refused = ", ".join(f"'{m}'" for m in REFUSED)
        await conn.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT refused CHECK (message_id NOT IN ({refused}))"
        )
    await _project(pool, bootstrap, topics, total)
    letters = await list_dead_letters(pool)
    assert len(letters) == 3
    assert all(d.id is not None for d in letters)
    assert all("violates check constraint" in d.reason for d in letters)

    # Replayed before the fix: each still fails, stays, with its new reason.
    before = await replay(pool, TimelineView(), TOUCHPOINTS, letters)
    assert before.applied == []
    assert len(before.still_failing) == 3
    assert [d.id for d in await list_dead_letters(pool)] == [d.id for d in letters]

    await pool.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT refused")  # the fix
    after = await replay(pool, TimelineView(), TOUCHPOINTS, await list_dead_letters(pool))
    assert len(after.applied) == 3
    assert after.still_failing == []
    assert [(d.topic, d.partition, d.offset) for d in after.applied] == sorted(
        (d.topic, d.partition, d.offset) for d in letters
    ), "applied in log order"
    assert await list_dead_letters(pool) == []

    clean = await asyncpg.create_pool(await new_database(), min_size=1, max_size=2)
    try:
        await _project(clean, bootstrap, topics, total)
        assert await list_dead_letters(clean) == []
        expected = await clean.fetch(ROWS)
    finally:
        await clean.close()
    assert len(expected) == total
    assert await pool.fetch(ROWS) == expected
