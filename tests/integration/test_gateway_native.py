"""The native routes over a real broker and PostgreSQL: accepted, rejected, retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import BASE_TIME, event_dict
from tests.integration.gateway_support import (
    SYSTEM,
    gateway_app,
    in_process,
    logged_events,
    write_key,
)
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _native(message_id: str, **kw: Any) -> dict[str, Any]:
    data = event_dict("call.logged", message_id=message_id, **kw)
    del data["source"]  # the write key's
    return data


@pytest.fixture
async def client(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])
    async with in_process(app, key) as http:
        yield http


async def test_an_event_is_in_the_log_once_acknowledged_with_the_write_keys_source(
    client: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    response = await client.post("/v1/events", json=_native("n-1"))

    assert response.status_code == 200, response.text
    assert response.json() == {"message_id": "n-1", "status": "accepted"}
    [logged] = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert logged["message_id"] == "n-1"
    assert logged["source"] == {"system": SYSTEM, "business_unit": "retail", "channel": "web"}
    assert logged["received_at"]


async def test_sent_at_corrects_the_devices_clock_skew(
    client: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    # The device's clock is 3 days fast; it recorded the touchpoint 10 minutes before sending.
    fast = datetime.now(UTC) + timedelta(days=3)
    event = _native("skewed", at=fast - timedelta(minutes=10))
    event["sent_at"] = fast.isoformat()

    assert (await client.post("/v1/events", json=event)).status_code == 200

    [logged] = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    occurred = datetime.fromisoformat(logged["occurred_at"])
    received = datetime.fromisoformat(logged["received_at"])
    assert abs(received - occurred - timedelta(minutes=10)) < timedelta(seconds=1)


async def test_a_batch_reports_each_event_and_a_rejected_one_blocks_no_other(
    client: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    bad = _native("b-2")
    bad["payload"]["duration_seconds"] = -5
    events = [_native("b-1"), bad, _native("b-3"), {"type": "no.such_type"}]

    response = await client.post("/v1/events/batch", json={"events": events})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["success"]) == (2, 2, False)
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert body["results"][1]["message_id"] == "b-2"
    assert [e["path"] for e in body["results"][1]["errors"]] == ["payload.duration_seconds"]
    assert body["results"][3]["errors"][0]["path"] == "type"
    assert "unknown event type" in body["results"][3]["errors"][0]["reason"]
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert sorted(e["message_id"] for e in logged) == ["b-1", "b-3"]


async def test_a_key_may_not_speak_for_another_system(client: httpx.AsyncClient) -> None:
    event = _native("other") | {
        "source": {"system": "crm", "business_unit": "retail", "channel": "web"}
    }

    response = await client.post("/v1/events", json=event)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "source.system"
    assert "'web-shop' only" in response.json()["errors"][0]["reason"]


async def test_retrying_a_batch_three_times_logs_each_event_once(
    client: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    events = [_native(f"r-{i}", at=BASE_TIME + timedelta(minutes=i)) for i in range(50)]

    answers = [await client.post("/v1/events/batch", json={"events": events}) for _ in range(3)]

    assert [a.json()["accepted"] for a in answers] == [50, 0, 0]
    assert [a.json()["duplicate"] for a in answers] == [0, 50, 50]
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert sorted(e["message_id"] for e in logged) == sorted(f"r-{i}" for i in range(50))


async def test_the_same_id_twice_in_one_batch_is_logged_once(
    client: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/events/batch", json={"events": [_native("twice"), _native("twice")]}
    )

    assert [r["status"] for r in response.json()["results"]] == ["accepted", "duplicate"]
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert [e["message_id"] for e in logged] == ["twice"]
