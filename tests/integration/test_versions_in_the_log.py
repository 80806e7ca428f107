"""A v1 ``call.logged`` stored in the log is read back as v2 by the projections."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from projections.timeline.postgres import count_rows, fetch_timeline
from tests.integration.runner_support import make_runner, running
from tests.unit.event_documents import V1_CALL
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_v1_call_in_the_topic_is_projected_as_v2(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    v1 = {**V1_CALL, "subject": {"customer_id": "cust-v1"}, "message_id": "old-call"}
    assert v1["schema_version"] == 1
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:  # written raw, as a producer of the v1 era did: no SDK, no upcasting on the way in
        await producer.send_and_wait(topics["touchpoints"], json.dumps(v1).encode(), key=b"x")
    finally:
        await producer.stop()

    async with running(make_runner(pool, broker.bootstrap_servers, topics)):
        await eventually(lambda: count_rows(pool), lambda n: n >= 1, what="the v1 call")

    [row] = (await fetch_timeline(pool, "cust-v1")).entries
    payload = json.loads(row["payload"])
    assert payload["reason"] == payload["outcome"] == "not recorded"
    assert payload["notes"] == V1_CALL["payload"]["notes"]
    assert "notes" in row["summary"] or V1_CALL["payload"]["notes"][:20] in row["summary"]
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0
