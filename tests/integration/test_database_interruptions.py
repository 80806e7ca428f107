"""PostgreSQL drops the stages' connections mid-stream (an operator, a failover, a restart).

The runner retries from the offsets stored with the views; batches fetched and decoded
before the failure (the pipeline holds up to three) are dropped, not applied. The
resolver republishes what it had published for the failed batch, identically.
"""

from __future__ import annotations

import json
from collections import defaultdict

import asyncpg
import pytest
from structlog.testing import capture_logs

from producers import Publisher
from projections.timeline.postgres import count_rows
from tests.factories import identity_events
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

TOTAL = 8_000


STAGES = "touchlog-stages-under-test"


async def _terminate_stages(pool: asyncpg.Pool) -> int:
    """Terminate every connection the stages hold; how many there were."""
    return int(
        await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            STAGES,
        )
    )


async def test_connections_terminated_five_times_mid_stream_leave_every_event_once(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    events = identity_events(TOTAL, people=800, seed=9)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)

    settings = pipeline_settings(topics, batch_max_records=400, identity_batch_max_records=400)
    stages = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"application_name": STAGES}
    )
    terminated = []
    try:
        with capture_logs() as logs:
            async with pipeline(
                settings, endpoints(broker.bootstrap_servers, database_url), stages
            ):
                for threshold in (1_000, 2_500, 4_000, 5_500, 7_000):
                    await eventually(
                        lambda: count_rows(pool),
                        lambda n, t=threshold: n >= t,
                        timeout=120,
                        interval=0.01,
                        what=f"{threshold} timeline rows",
                    )
                    terminated.append(await _terminate_stages(pool))
                await eventually(
                    lambda: count_rows(pool), lambda n: n >= TOTAL, timeout=180, what="all rows"
                )
    finally:
        await stages.close()

    assert all(n > 0 for n in terminated), terminated
    retried = [e for e in logs if e["event"] == "batch_failed_retrying"]
    assert retried, "the stages should have seen their connections go"
    assert await count_rows(pool) == TOTAL
    duplicated = await pool.fetchval(
        "SELECT count(*) FROM (SELECT message_id FROM timeline_v1 "
        "GROUP BY source_system, message_id HAVING count(*) > 1) d"
    )
    assert duplicated == 0

    # Every event reached touchlog.resolved; a copy republished after a failure carries
    # the customer the first one did.
    customers: dict[str, set[str]] = defaultdict(set)
    for record in await read_topic(broker.bootstrap_servers, topics["resolved"]):
        stamped = json.loads(record.value)
        customers[stamped["event"]["message_id"]].add(stamped["customer_id"])
    published = {e.message_id for e in events}
    assert published <= set(customers)
    assert all(len(customers[m]) == 1 for m in published)
