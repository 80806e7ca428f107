"""``touchlog demo --years``: the history reaches the log whole, in time order, and says
which campaign costs go with it."""

from __future__ import annotations

import json

import asyncpg
import pytest

from events import Touchpoint
from events.codec import TOUCHPOINTS
from producers.demo.history import history_events
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints, opened_records, pipeline_settings
from tests.metrics_support import NOW
from touchlog.cli_demo_history import publish_history
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_the_history_is_published_whole_in_time_order(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = pipeline_settings(topics)
    ends = endpoints(broker.bootstrap_servers, database_url)
    await publish_history(ends, settings, customers=12, years=0, now=NOW)
    said = capsys.readouterr().out
    costs = json.loads(said.split("TOUCHLOG_ANALYTICS_CAMPAIGN_COSTS='")[1].split("'")[0])
    assert set(costs) == {"SPRING-MAILER", "SUMMER-SMS"}

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:  # published sealed: opened with the keys in the database, as the resolver does
        records = await opened_records(
            pool, await read_topic(broker.bootstrap_servers, topics["touchpoints"])
        )
    finally:
        await pool.close()
    events = [
        e for e in TOUCHPOINTS.decode_many([r.value for r in records]) if isinstance(e, Touchpoint)
    ]
    assert len(events) == len(records), "every record decodes"
    generated = list(history_events(12, 0, now=NOW))  # the same seed: the same ids
    assert sorted(e.message_id for e in events) == sorted(e.message_id for e in generated)
    stamped = sorted(zip((r.timestamp for r in records), events, strict=True), key=lambda p: p[0])
    assert [e.occurred_at for _, e in stamped] == sorted(e.occurred_at for e in events)
