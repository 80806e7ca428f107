"""The stages in consumer-group mode — the mode ``touchlog up`` runs them in.

aiokafka starts fetching a new assignment from offset 0 before the listener has sought
to the stored offsets; none of those records may reach a batch. The group-mode result
must equal a ``--partitions`` replay of the same log, record for record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from consumers import checkpoints
from consumers.log_check import StoredOffsetsBeyondLog
from producers import Publisher
from projections.timeline.postgres import count_rows
from tests.factories import identity_events, random_events
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints, pipeline_settings
from tests.integration.runner_support import make_runner
from tests.waiting import eventually
from touchlog import bootstrap
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

TOTAL = 20_000
STATE = [
    "SELECT subject_key, source_system, message_id, type FROM timeline_v1 "
    "ORDER BY subject_key, message_id",
    "SELECT customer_id, born_from, merged_into FROM identity_customers ORDER BY customer_id",
    "SELECT identifier, customer_id FROM identity_links ORDER BY 1, 2",
    "SELECT survivor, merged, message_id FROM identity_merges ORDER BY 1, 2, 3",
]


@contextlib.asynccontextmanager
async def _stages(
    settings: Settings, ends: bootstrap.Endpoints, pool: asyncpg.Pool, partitions: list[int] | None
) -> AsyncIterator[None]:
    await bootstrap.create_tables(pool)
    stop = asyncio.Event()
    task = asyncio.create_task(
        bootstrap.run_stages(
            settings, ends, pool, stop, stages=("identity", "timeline"), partitions=partitions
        )
    )
    try:
        yield
    finally:
        stop.set()
        await task


async def _resolved_ids(bootstrap_servers: str, topic: str) -> Counter[tuple[str, str]]:
    records = await read_topic(bootstrap_servers, topic)
    return Counter(
        (r["customer_id"], r["event"]["message_id"])  # not sealed: read without the keys
        for r in (json.loads(record.value) for record in records)
    )


async def test_group_mode_resolves_each_event_once_as_a_partitions_replay_does(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    new_database: Callable[[], Awaitable[str]],
) -> None:
    events = identity_events(TOTAL, people=1_500, seed=21)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)

    states, resolved = [], []
    for mode, partitions in (("group", None), ("replay", list(range(6)))):
        run_topics = {**topics, "resolved": f"{topics['resolved']}.{mode}"}
        await ensure_topics(broker.bootstrap_servers, [run_topics["resolved"]], partitions=6)
        url = await new_database()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            settings = pipeline_settings(run_topics, consumer_group=f"g-{run_topics['resolved']}")
            ends = endpoints(broker.bootstrap_servers, url)
            async with _stages(settings, ends, pool, partitions):
                await eventually(
                    lambda p=pool: count_rows(p),
                    lambda n: n >= TOTAL,
                    timeout=180,
                    what=f"{mode}: every event in the timeline",
                )
            states.append([[tuple(r) for r in await pool.fetch(q)] for q in STATE])
        finally:
            await pool.close()
        resolved.append(await _resolved_ids(broker.bootstrap_servers, run_topics["resolved"]))

    group, replay = resolved
    copies = Counter(m for (_, m), n in group.items() for _ in range(n) if m.startswith("id-"))
    twice = {m: n for m, n in copies.items() if n > 1}
    assert not twice, f"{len(twice)} events resolved more than once, e.g. {list(twice)[:5]}"
    assert set(copies) == {e.message_id for e in events}
    assert group == replay, "group mode must resolve every event as the replay does"
    assert len(states[1][3]) > 100, "the workload should exercise merges"
    for name, got, want in zip(("timeline", "customers", "links", "merges"), *states, strict=True):
        assert got == want, f"{name} differs between group mode and the replay"


@pytest.mark.parametrize("group", [True, False], ids=["group", "partitions"])
async def test_stored_offsets_past_the_end_of_the_log_stop_the_stage(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, group: bool, unique: str
) -> None:
    """A new log under views that were kept (a new embedded broker, a recreated topic)."""
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(random_events(60, 10, seed=3))
    runner = make_runner(
        pool, broker.bootstrap_servers, topics, group=f"g-{unique}" if group else None
    )
    await runner.prepare()
    async with pool.acquire() as conn, conn.transaction():
        await checkpoints.lock_offsets(conn, runner.name, topics["touchpoints"], range(6))
        await checkpoints.advance(conn, runner.name, topics["touchpoints"], {3: 5_000})

    with pytest.raises(StoredOffsetsBeyondLog) as refused:
        await asyncio.wait_for(runner.run(), timeout=60)

    message = str(refused.value)
    assert "partition 3: stored 5000, log ends at " in message
    assert "touchlog reset" in message
    end = refused.value.beyond[3][1]
    assert end is not None
    assert end < 60
    assert runner.applied == 0
    assert await count_rows(pool) == 0, "nothing may be applied from a log that does not match"
