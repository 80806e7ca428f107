"""``touchlog status``: while a stage is paused its lag grows, in events and in seconds;
once it has caught up, both are 0 (issue 13, acceptance 4)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers import checkpoints
from consumers.status import PartitionStatus, Stage, stage_status
from events import encode
from projections.db import create_tables
from projections.timeline.postgres import TimelineView
from tests.factories import make_event
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _lag(found: list[PartitionStatus]) -> int:
    return sum(s.lag_events or 0 for s in found)


def _age(found: list[PartitionStatus]) -> float:
    return max(s.lag_seconds or 0.0 for s in found)


async def test_lag_in_seconds_grows_while_paused_and_is_0_once_caught_up(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    bootstrap = broker.bootstrap_servers
    async with pool.acquire() as conn:
        await create_tables(conn, checkpoints.SCHEMA, *TimelineView.schema)
    stages = [Stage("timeline", TimelineView.name, topics["touchpoints"])]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(12):
            event = make_event(customer=f"cust-{i}", message_id=f"m-{i}")
            await producer.send(topics["touchpoints"], encode(event), key=f"cust-{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    first = await stage_status(pool, bootstrap, stages)
    assert len(first) == 6
    assert {s.view for s in first} == {"timeline_v1"}
    assert _lag(first) == 12
    assert all(s.lag_seconds is not None for s in first)
    await eventually(
        lambda: stage_status(pool, bootstrap, stages),
        lambda found: _lag(found) == 12 and _age(found) > _age(first) + 0.2,
        what="the lag in seconds growing while paused",
        timeout=10,
    )

    runner = make_runner(pool, bootstrap, topics)
    async with running(runner):
        caught_up = await eventually(
            lambda: stage_status(pool, bootstrap, stages),
            lambda found: _lag(found) == 0,
            what="lag 0",
            timeout=30,
        )
    assert all(s.lag_seconds == 0 and s.last_error is None for s in caught_up)
    assert sum(s.stored_offset or 0 for s in caught_up) == 12
