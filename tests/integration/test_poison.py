"""Records the runner cannot apply go to the dead-letter topic; the rest are projected."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers import checkpoints
from consumers.deadletter import DeadLetter
from events import encode
from projections.db import create_tables
from projections.timeline.postgres import TABLE, TimelineView, count_rows, fetch_timeline
from tests.factories import event_dict, make_event
from tests.integration.kafka_support import read_topic
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def _read_all(bootstrap: str, topic: str) -> list[DeadLetter]:
    return [DeadLetter.from_json(r.value) for r in await read_topic(bootstrap, topic)]


async def test_garbage_unknown_type_and_invalid_event_are_dead_lettered(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    key = b"cust-poison"  # one partition, so the good events sit on both sides of the bad ones
    unknown_type = json.dumps({**event_dict(customer="cust-poison"), "type": "telepathy.used"})
    invalid = event_dict(customer="cust-poison")
    invalid["payload"]["duration_seconds"] = -5
    records = [
        encode(make_event(customer="cust-poison", message_id="before")),
        b"\x00\xffthis is not json",
        unknown_type.encode(),
        json.dumps(invalid).encode(),
        encode(make_event(customer="cust-poison", message_id="after")),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in records:
            await producer.send_and_wait(topics["touchpoints"], value, key=key)
    finally:
        await producer.stop()

    runner = make_runner(pool, broker.bootstrap_servers, topics)
    async with running(runner):
        await eventually(lambda: count_rows(pool), lambda n: n >= 2, what="good events")
        letters = await eventually(
            lambda: _read_all(broker.bootstrap_servers, topics["deadletter"]),
            lambda got: len(got) >= 3,
            what="3 dead letters",
        )

    page = await fetch_timeline(pool, "cust-poison")
    assert sorted(r["message_id"] for r in page.entries) == ["after", "before"]
    assert await count_rows(pool) == 2

    by_value = {d.value: d for d in letters}
    assert set(by_value) == set(records[1:4])
    assert "not valid JSON" in by_value[records[1]].reason
    assert "type: unknown event type" in by_value[records[2]].reason
    assert "payload.duration_seconds" in by_value[records[3]].reason
    assert all(d.topic == topics["touchpoints"] and d.key == key for d in letters)
    assert sorted(d.offset for d in letters) == [1, 2, 3]

    stored = await pool.fetch('SELECT "offset", reason FROM dead_letters ORDER BY "offset"')
    assert [r["offset"] for r in stored] == [1, 2, 3]
    offsets = await pool.fetchval(
        "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = $1", topics["touchpoints"]
    )
    assert offsets == 5, "the offset moved past the poison records"


async def _refusing(pool: asyncpg.Pool, message_id: str) -> None:
    """The timeline's table, with a rule by which PostgreSQL refuses one valid event (as it
    would any event a view cannot store): the runner must find it and dead-letter it."""
    async with pool.acquire() as conn:
        await create_tables(conn, checkpoints.SCHEMA, *TimelineView.schema)
        await conn.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT refused CHECK (message_id <> '{message_id}')"
        )


async def _publish(bootstrap: str, topic: str, values: list[bytes], key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def test_an_event_the_view_rejects_is_dead_lettered_and_its_batch_applied(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    await _refusing(pool, "refused")
    messages = ["ok-0", "refused", "ok-1", "ok-2"]
    values = [encode(make_event(customer="cust-refused", message_id=m)) for m in messages]
    await _publish(broker.bootstrap_servers, topics["touchpoints"], values, b"cust-refused")

    runner = make_runner(pool, broker.bootstrap_servers, topics)
    async with running(runner):
        await eventually(lambda: count_rows(pool), lambda n: n >= 3, what="the 3 good events")
        [letter] = await eventually(
            lambda: _read_all(broker.bootstrap_servers, topics["deadletter"]),
            lambda got: len(got) >= 1,
            what="the dead letter",
        )
    assert letter.offset == 1
    assert "violates check constraint" in letter.reason, letter.reason
    assert await count_rows(pool) == 3


class _CountingTimeline(TimelineView):
    writes = 0

    async def write(self, conn, rows):  # type: ignore[no-untyped-def]
        type(self).writes += 1
        await super().write(conn, rows)


async def test_one_rejected_event_in_a_big_batch_is_found_by_bisection(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    await _refusing(pool, "refused-2")
    messages = [f"b-{i:04d}" for i in range(2000)]
    messages.insert(1234, "refused-2")
    values = [encode(make_event(customer="cust-big", message_id=m)) for m in messages]
    await _publish(broker.bootstrap_servers, topics["touchpoints"], values, b"cust-big")

    runner = make_runner(pool, broker.bootstrap_servers, topics)
    runner.view = _CountingTimeline()
    async with running(runner):
        await eventually(lambda: count_rows(pool), lambda n: n >= 2000, what="2000 good events")
        await eventually(lambda: _applied_and_dead(runner), lambda n: n == 2001, what="all read")
    [letter] = await _read_all(broker.bootstrap_servers, topics["deadletter"])
    assert letter.offset == 1234
    assert await count_rows(pool) == 2000
    # Per failing batch: one whole attempt, then two halves per level of bisection.
    assert 2 < _CountingTimeline.writes < 60, _CountingTimeline.writes


async def _applied_and_dead(runner) -> int:  # type: ignore[no-untyped-def]
    return runner.applied + runner.dead_lettered
