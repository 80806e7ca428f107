"""Events published with the SDK end up in the timeline: all, in order, once."""

from __future__ import annotations

import json
from collections import Counter

import asyncpg
import pytest

from events import InvalidEvent
from producers import Publisher
from projections.timeline.postgres import count_rows, fetch_timeline
from tests.factories import event_dict, random_events
from tests.integration.kafka_support import read_topic
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_2000_events_for_100_subjects_all_in_timeline_newest_first_none_twice(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    events = random_events(2000, subjects=100, seed=2)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        receipts = await publisher.publish_many(events)
    assert {r.partition for r in receipts} == set(range(6)), "events should span 6 partitions"

    async with running(make_runner(pool, broker.bootstrap_servers, topics)):
        await eventually(lambda: count_rows(pool), lambda n: n >= 2000, what="2000 rows")

    assert await count_rows(pool) == 2000
    duplicates = await pool.fetchval(
        "SELECT count(*) FROM (SELECT message_id FROM timeline_v1 GROUP BY message_id "
        "HAVING count(*) > 1) d"
    )
    assert duplicates == 0

    expected = Counter(e.subject.key() for e in events)
    for subject, count in expected.items():
        page = await fetch_timeline(pool, subject, limit=200)
        times = [row["occurred_at"] for row in page.entries]
        assert len(times) == count
        assert times == sorted(times, reverse=True), f"{subject} not newest first"
        mine = sorted(e.message_id for e in events if e.subject.key() == subject)
        assert sorted(row["message_id"] for row in page.entries) == mine


async def test_republished_events_are_applied_once(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    events = random_events(300, subjects=10, seed=3)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)
        await publisher.publish_many(events[:100])  # a producer retry re-sends these

    runner = make_runner(pool, broker.bootstrap_servers, topics)
    async with running(runner):
        await eventually(lambda: _applied(runner), lambda n: n >= 400, what="400 records read")
    assert await count_rows(pool) == 300


async def _applied(runner) -> int:
    return runner.applied


async def test_publisher_rejects_an_invalid_event_naming_the_field_and_sends_nothing(
    broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    bad = event_dict()
    bad["payload"]["duration_seconds"] = -1
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        with pytest.raises(InvalidEvent) as caught:
            await publisher.publish_many([event_dict(), bad])
        receipt = await publisher.publish(event_dict(customer="cust-ok"))
    assert [e.path for e in caught.value.errors] == ["payload.duration_seconds"]
    assert "greater than or equal to 0" in caught.value.errors[0].reason
    assert len(await read_topic(broker.bootstrap_servers, topics["touchpoints"])) == 1
    assert receipt.offset == 0


async def test_published_in_order_the_record_timestamps_follow_the_given_order(
    broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    """Across subjects (so across partitions), as the resolver interleaves them."""
    events = [event_dict(customer=f"cust-{i % 7}", message_id=f"m-{i:03d}") for i in range(60)]
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events, in_order=True)
    records = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
    assert len({r.partition for r in records}) > 1
    by_time = sorted(records, key=lambda r: r.timestamp)
    assert [json.loads(r.value)["message_id"] for r in by_time] == [f"m-{i:03d}" for i in range(60)]
    assert len({r.timestamp for r in records}) == 60


async def test_group_member_resumes_from_offsets_stored_with_the_view(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, unique: str
) -> None:
    first, second = random_events(600, 30, seed=8), random_events(600, 30, seed=9, prefix="b")
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(first)
        runner = make_runner(pool, broker.bootstrap_servers, topics, group=f"g-{unique}")
        async with running(runner):
            await eventually(lambda: count_rows(pool), lambda n: n >= 600, what="first 600")
        await publisher.publish_many(second)

    again = make_runner(pool, broker.bootstrap_servers, topics, group=f"g-{unique}")
    async with running(again):
        await eventually(lambda: count_rows(pool), lambda n: n >= 1200, what="all 1200")
    assert again.applied == 600, "the new member must start at the stored offsets"
    assert await count_rows(pool) == 1200
