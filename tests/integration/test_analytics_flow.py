"""The metrics projection run by the projection runner from Kafka: a year of history,
part of it published twice, gives the rollups a recomputation from the raw events gives
(each event counted once, offsets and rollups in one transaction)."""

from __future__ import annotations

import asyncpg
import pytest

from consumers.runner import RunnerConfig
from producers import Publisher
from producers.demo.history import history_events
from projections.metrics.postgres import MetricsView
from tests.integration.test_analytics_rollups import stored
from tests.metrics_support import NOW, recompute
from tests.runner_contract import running
from tests.waiting import eventually
from touchlog.bootstrap import projection_runner
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_the_runner_applies_a_year_once_whatever_is_published_twice(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    year = list(history_events(25, years=0, seed=9, now=NOW))
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(year)
        await publisher.publish_many(year[:500])  # a producer retry re-sends these
    config = RunnerConfig(
        bootstrap_servers=broker.bootstrap_servers,
        topic=topics["touchpoints"],
        deadletter_topic=topics["deadletter"],
        group_id="unused",
        idempotence=False,
        partitions=range(6),
    )
    runner = projection_runner(config, pool, MetricsView())
    total = len(year) + 500
    async with running(runner):
        await eventually(lambda: _applied(runner), lambda n: n >= total, what=f"{total} read")
    assert await stored(pool) == recompute(year)


async def _applied(runner: object) -> int:
    return int(runner.applied)  # type: ignore[attr-defined]
