"""Input touchlog cannot store is the request's fault: a 4xx naming the field, per event in
a batch, the valid events of the batch still accepted. Only the log being away is a 503."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.integration.gateway_support import basic, gateway_app, in_process, logged_events
from tests.integration.gateway_support import write_key as new_write_key
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

NUL = "\x00"


@pytest.fixture
async def gateway(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])
    async with in_process(app, key) as http:
        yield http


async def test_a_batch_with_a_nul_message_id_accepts_the_others_and_names_the_bad_one(
    gateway: httpx.AsyncClient, broker: EmbeddedBroker, topics: dict[str, str]
) -> None:
    batch = [
        {"type": "track", "userId": "U-1", "event": "Video Played", "messageId": "ok-1"},
        {"type": "track", "userId": "U-1", "event": "Video Played", "messageId": f"bad{NUL}"},
        {"type": "identify", "userId": "U-1", "messageId": "ok-2",
         "context": {"traits": {"email": "u1@example.com"}}},
    ]  # fmt: skip

    response = await gateway.post("/v1/batch", json={"batch": batch})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["unavailable"]) == (2, 1, 0)
    bad = body["results"][1]
    assert (bad["message_id"], bad["status"]) == (f"bad{NUL}", "rejected")
    [error] = [e for e in bad["errors"] if e["path"] == "messageId"]
    assert "NUL" in error["reason"]
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert sorted(e["message_id"] for e in logged) == ["ok-1", "ok-2"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/track", {"userId": "U", "event": "E", "messageId": f"m{NUL}"}, "messageId"),
        ("/v1/track", {"userId": f"U{NUL}", "event": "E"}, "userId"),
        ("/v1/track", {"anonymousId": "a", "event": "E", "properties": {"note": NUL}},
         "properties.note"),
        ("/v1/identify", {"userId": "U", "traits": {"firstName": NUL, "lastName": "L"}},
         "traits.firstName"),
        ("/v1/events", {"type": "call.logged", "message_id": f"n{NUL}"}, "message_id"),
    ],
)  # fmt: skip
async def test_a_nul_in_a_single_event_is_a_400_naming_the_field(
    gateway: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    response = await gateway.post(path, json=body)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_event"
    assert field in [e["path"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": "Basic \u00e9t\u00e9"}, 401),  # beyond ASCII: latin-1 on the wire
        (basic(f"tlk_{NUL}"), 401),
        # Not a number of bytes: left to the body's own limit (servers refuse it before).
        ({"Content-Length": "\u00b2", "Content-Type": "application/json"}, 200),
    ],
)
async def test_odd_header_values_are_refused_or_left_alone_never_a_5xx(
    gateway: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    request = gateway.build_request("POST", "/v1/track", json={"userId": "U", "event": "E"})
    for name, value in headers.items():
        request.headers[name] = value

    response = await gateway.send(request)

    assert response.status_code == status, response.text
