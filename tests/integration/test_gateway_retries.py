"""Retried requests: the same batch sent three times is each event once, in the log and in
the timeline — whether the retries come one after another or all at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from projections.timeline.postgres import TABLE, count_rows
from tests.factories import BASE_TIME
from tests.integration.gateway_support import gateway_app, in_process, logged_events, write_key
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _segment_batch(prefix: str, size: int) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "track",
                "messageId": f"{prefix}-{i}",
                "userId": f"U-{i % 7}",
                "event": "Video Played",
                "properties": {"video_id": f"v-{i}"},
                "timestamp": (BASE_TIME + timedelta(minutes=i)).isoformat(),
            }
            for i in range(size)
        ],
        "sentAt": (BASE_TIME + timedelta(hours=1)).isoformat(),
        "context": {"library": {"name": "test", "version": "1"}},
    }


async def test_a_batch_sent_three_times_is_each_event_once_in_log_and_timeline(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])
    sequential, concurrent = _segment_batch("seq", 100), _segment_batch("con", 100)
    async with in_process(app, key) as client:
        one_by_one = [await client.post("/v1/batch", json=sequential) for _ in range(3)]
        at_once = await asyncio.gather(
            *(client.post("/v1/batch", json=concurrent) for _ in range(3))
        )

    assert [_counts(r) for r in one_by_one] == [(100, 0), (0, 100), (0, 100)]
    assert sorted(_counts(r) for r in at_once) == [(0, 100), (0, 100), (100, 0)]
    logged = Counter(
        e["message_id"]
        for e in await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    )
    assert len(logged) == 200
    assert set(logged.values()) == {1}

    settings = pipeline_settings(topics)
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        await eventually(lambda: count_rows(pool), lambda n: n >= 200, what="200 timeline rows")
        rows = await pool.fetch(f"SELECT message_id FROM {TABLE}")
    assert sorted(Counter(r["message_id"] for r in rows).values()) == [1] * 200


def _counts(response: httpx.Response) -> tuple[int, int]:
    assert response.status_code == 200, response.text
    body = response.json()
    return body["accepted"], body["duplicate"]
