"""The bad-input matrix: each gets its documented 4xx with a specific message, and nothing
reaches the log. Also the write keys' life cycle through ``touchlog sources``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from producers.gateway import sources
from tests.factories import event_dict
from tests.integration.gateway_support import (
    basic,
    gateway_app,
    in_process,
    logged_events,
    write_key,
)
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


def _track(**kw: Any) -> dict[str, Any]:
    return {"userId": "U-1", "event": "Video Played", "messageId": "t-1"} | kw


def _native(**kw: Any) -> dict[str, Any]:
    event = event_dict("call.logged", message_id="n-1") | kw
    del event["source"]  # the write key's
    return event


def _padding(kb: int) -> str:
    return "x" * (kb * 1024)


# (case, path, body: JSON-able or raw bytes, headers, status, code, words in the message)
MATRIX: list[tuple[str, str, Any, dict[str, str], int, str, str]] = [
    ("malformed JSON", "/v1/events", b'{"type": "call.logged",', JSON, 400, "malformed_json",
     "not valid JSON: EOF while parsing"),
    ("malformed JSON, Segment", "/v1/batch", b"{'batch': []}", JSON, 400, "malformed_json",
     "not valid JSON"),
    ("empty body", "/v1/track", b"", JSON, 400, "malformed_json", "body is empty"),
    ("a batch that is not an object", "/v1/events/batch", [], JSON, 400, "malformed_batch",
     "'events' array"),
    ("wrong content type", "/v1/events", b"type=call.logged",
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type",
     "'application/x-www-form-urlencoded' is not accepted"),
    ("no content type", "/v1/track", b"{}", {}, 415, "unsupported_media_type",
     "no Content-Type is not accepted"),
    ("unknown content encoding", "/v1/batch", b"{}", JSON | {"Content-Encoding": "br"}, 415,
     "unsupported_media_type", "Content-Encoding 'br'"),
    ("oversized event", "/v1/events", _native(payload={"notes": _padding(33)}), JSON, 400,
     "event_too_large", "32 KB (32768 bytes)"),
    ("oversized Segment event", "/v1/track", _track(properties={"p": _padding(33)}), JSON, 400,
     "event_too_large", "32 KB"),
    ("oversized batch", "/v1/batch",
     {"batch": [_track(properties={"p": _padding(30)}) for _ in range(17)]}, JSON, 400,
     "batch_too_large", "500 KB (512000 bytes)"),
    ("too many events", "/v1/events/batch", {"events": [{}] * 1001}, JSON, 400,
     "too_many_events", "limit is 1000 per batch"),
    ("unknown type", "/v1/events", _native(type="call.teleported"), JSON, 400, "invalid_event",
     "type: unknown event type"),
    ("missing userId and anonymousId", "/v1/track", _track(userId=None), JSON, 400,
     "invalid_event", "userId: userId or anonymousId is required"),
    ("unreadable timestamp", "/v1/track", _track(timestamp="last tuesday"), JSON, 400,
     "invalid_event", "timestamp: is not an ISO 8601 date-time"),
    ("timestamp without offset", "/v1/identify",
     {"userId": "U", "traits": {"email": "a@b.co"}, "timestamp": "2026-03-01T10:00:00"}, JSON,
     400, "invalid_event", "timestamp: needs a UTC offset"),
    ("sentAt not a time", "/v1/track", _track(sentAt=12), JSON, 400, "invalid_event",
     "sentAt: must be an ISO 8601 date-time string"),
    ("occurred_at in the future", "/v1/events", _native(occurred_at="2099-01-01T00:00:00Z"),
     JSON, 400, "invalid_event", "occurred_at: is more than 1 hour(s) after"),
    ("naive occurred_at", "/v1/events", _native(occurred_at="2026-03-01T10:00:00"), JSON, 400,
     "invalid_event", "occurred_at: Input should have timezone info"),
    ("a property of a mapped event", "/v1/track",
     _track(event="Order Completed", properties={"order_id": "O", "currency": "EUR",
                                                 "total": 1, "products": [{"sku": "S"}]}),
     JSON, 400, "invalid_event", "properties.products.0.price: Field required"),
]  # fmt: skip


@pytest.fixture
async def gateway(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])
    async with in_process(app) as http:
        yield http, key


async def test_every_bad_input_gets_its_4xx_and_nothing_reaches_the_log(
    gateway: tuple[httpx.AsyncClient, str], broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    client, key = gateway
    answers = []
    for case, path, body, headers, *_ in MATRIX:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await client.post(path, content=content, headers=headers | basic(key))
        answers.append((case, response.status_code, response.json()))

    for (case, *_, status, code, words), (_, got_status, got) in zip(MATRIX, answers, strict=True):
        assert (got_status, got["code"]) == (status, code), (case, got)
        assert words in got["message"], (case, got["message"])
    assert await logged_events(broker.bootstrap_servers, topics["touchpoints"]) == []


async def test_an_oversized_event_in_a_batch_is_rejected_alone(
    gateway: tuple[httpx.AsyncClient, str], broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    client, key = gateway
    batch = [
        _track(type="track", messageId="ok"),
        _track(type="track", messageId="big", properties={"p": _padding(33)}),
    ]

    response = await client.post("/v1/batch", json={"batch": batch}, headers=basic(key))

    assert response.status_code == 200
    big = response.json()["results"][1]
    assert (big["message_id"], big["status"]) == ("big", "rejected")
    assert "exceeds the limit of 32 KB" in big["errors"][0]["reason"]
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert [e["message_id"] for e in logged] == ["ok"]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "no write key"),
        ({"Authorization": "Bearer abc"}, "'Bearer' authorization is not accepted"),
        ({"Authorization": "Basic %%%"}, "not valid base64"),
        (basic("tlk_not-a-key"), "unknown or revoked write key"),
    ],
)
async def test_no_or_an_unknown_key_is_401(
    gateway: tuple[httpx.AsyncClient, str], headers: dict[str, str], says: str
) -> None:
    client, _ = gateway

    response = await client.post("/v1/track", json=_track(), headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="touchlog"'
    assert says in response.json()["message"]


def _cli(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # unused by these commands
        "TOUCHLOG_LOG_LEVEL": "warning",
        "TOUCHLOG_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "touchlog.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_keys_are_added_listed_and_revoked_with_the_cli_and_a_revoked_key_is_401(
    gateway: tuple[httpx.AsyncClient, str],
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    client, _ = gateway

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(_cli, *args, database_url=database_url, data_dir=tmp_path)

    added = await run(
        "sources", "add", "kiosk-app", "--business-unit", "stores", "--channel", "kiosk"
    )
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("tlk_")
    listed = json.loads((await run("sources", "list", "--json")).stdout)
    [kiosk] = [s for s in listed if s["system"] == "kiosk-app"]
    assert kiosk["key_id"] == key[: sources.KEY_ID_LENGTH]
    assert (kiosk["channel"], kiosk["revoked_at"]) == ("kiosk", None)
    assert key[sources.KEY_ID_LENGTH :] not in json.dumps(listed)  # only the hash is stored
    accepted = await client.post("/v1/track", json=_track(messageId="k-1"), headers=basic(key))
    assert accepted.status_code == 200, accepted.text

    revoked = await run("sources", "revoke", kiosk["key_id"])

    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout
    # The running gateway hears of it (NOTIFY): probe with a body it would refuse anyway.
    await eventually(
        lambda: client.post("/v1/track", content=b"{", headers=JSON | basic(key)),
        lambda r: r.status_code == 401,
        timeout=10,
        what="the revoked key refused",
    )
    refused = await client.post("/v1/track", json=_track(messageId="k-2"), headers=basic(key))
    assert refused.status_code == 401
    assert refused.json()["message"] == "unknown or revoked write key"
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert [e["message_id"] for e in logged] == ["k-1"]
    assert logged[0]["source"] == {
        "system": "kiosk-app",
        "business_unit": "stores",
        "channel": "kiosk",
    }
    again = await run("sources", "revoke", kiosk["key_id"])
    assert again.returncode == 1
