"""Events published with the SDK end up in the timeline: all, in order, once."""

from __future__ import annotations

from collections import Counter

import asyncpg
import pytest

from producers import Publisher
from projections.timeline.postgres import count_rows, fetch_timeline
from tests.factories import random_events
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_2000_events_for_100_subjects_all_in_timeline_newest_first_none_twice(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    events = random_events(2000, subjects=100, seed=2)
    async with Publisher(broker.bootstrap_servers, topic=topics["touchpoints"],
                         idempotence=False) as publisher:
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
    async with Publisher(broker.bootstrap_servers, topic=topics["touchpoints"],
                         idempotence=False) as publisher:
        await publisher.publish_many(events)
        await publisher.publish_many(events[:100])  # a producer retry re-sends these

    runner = make_runner(pool, broker.bootstrap_servers, topics)
    async with running(runner):
        await eventually(lambda: _applied(runner), lambda n: n >= 400, what="400 records read")
    assert await count_rows(pool) == 300


async def _applied(runner) -> int:
    return runner.applied
