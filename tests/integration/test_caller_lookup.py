"""Caller recognition and customer aliases over HTTP, after the real pipeline ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from projections.identity import IdentityRules
from projections.timeline.postgres import count_rows
from tests.factories import BASE_TIME, event_dict
from tests.integration.kafka_support import publish_in_order
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

SWITCHBOARD = "01 40 20 50 50"


def _event(
    kind: str,
    subject: dict[str, Any],
    message_id: str,
    hours: int,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    known = kind if payload is None else "call.logged"
    data = event_dict(known, message_id=message_id, at=BASE_TIME + timedelta(hours=hours))
    data["subject"] = subject
    if payload is not None:
        data |= {"type": kind, "payload": payload}
    return data


NAME = {
    "name": {
        "title": "Ms",
        "given_name": "Siobhan",
        "family_name": "Niamh",
        "pronunciation": "shiv-AWN NEEV",
    }
}


@pytest.fixture
async def client(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    rules = IdentityRules(shared_numbers=(SWITCHBOARD,))
    events = [
        _event(
            "profile.updated",
            {"email": "siobhan@example.ie", "phone": "06 28 23 04 55"},
            "p1",
            1,
            NAME,
        ),
        _event("complaint.opened", {"email": "SIOBHAN@example.ie"}, "c1", 2),
        _event("call.logged", {"phone": "+33 6 28 23 04 55"}, "k1", 3),
        # A switchboard number typed on someone else's record must not link them.
        _event("call.logged", {"email": "other@example.com", "phone": SWITCHBOARD}, "k2", 4),
        # Two known customers (ids given by the channel) sharing a landline.
        _event("call.logged", {"customer_id": "C-100", "phone": "04 72 00 00 01"}, "k3", 5),
        _event("call.logged", {"customer_id": "C-200", "phone": "04.72.00.00.01"}, "k4", 6),
    ]
    settings = pipeline_settings(topics)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], events)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with pipeline(settings, ends, pool, rules=rules):
        await eventually(lambda: count_rows(pool), lambda n: n >= 6, what="6 rows")
    app = create_app(database_url, rules, {"t-agent": Caller("Ann", Role.AGENT)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer t-agent"},
        ) as http,
    ):
        yield http


@pytest.mark.parametrize(
    "written",
    ["0628230455", "+33628230455", "06-28-23-04-55", "0033 6 28 23 04 55", "+33 (0)6 28 23 04 55"],
)
async def test_lookup_by_a_phone_written_any_way_finds_the_caller(
    client: httpx.AsyncClient, written: str
) -> None:
    body = (await client.get("/lookup", params={"phone": written})).json()
    assert body["identifier"] == "phone:+33628230455"
    [card] = body["candidates"]
    assert (card["title"], card["given_name"], card["family_name"]) == ("Ms", "Siobhan", "Niamh")
    assert card["pronunciation"] == "shiv-AWN NEEV"
    assert card["open_complaints"] == 1
    assert card["last_contact"]["type"] == "call.logged"
    assert "date_of_birth" not in card, "the card is essential tier only"


async def test_email_lookup_and_a_blocklisted_switchboard_finds_nobody(
    client: httpx.AsyncClient,
) -> None:
    by_email = (await client.get("/lookup", params={"email": " Siobhan@Example.IE"})).json()
    assert len(by_email["candidates"]) == 1
    switchboard = (await client.get("/lookup", params={"phone": "+33140205050"})).json()
    assert switchboard["candidates"] == []
    assert "shared" in switchboard["not_matched"]
    assert (switchboard["shared"], switchboard["ambiguous"]) == (True, False)


async def test_ambiguous_phone_returns_every_candidate(client: httpx.AsyncClient) -> None:
    body = (await client.get("/lookup", params={"phone": "0472000001"})).json()
    assert sorted(c["customer_id"] for c in body["candidates"]) == ["C-100", "C-200"]
    assert body["ambiguous"] is True
    one = (await client.get("/lookup", params={"phone": "0628230455"})).json()
    assert (one["ambiguous"], one["shared"], one["not_matched"]) == (False, False, None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"phone": "call me"}, "phone"),
        ({}, None),
        ({"phone": "0628230455", "email": "a@b.c"}, None),
    ],
)
async def test_bad_lookup_is_a_422(
    client: httpx.AsyncClient, params: dict, field: str | None
) -> None:
    response = await client.get("/lookup", params=params)
    assert response.status_code == 422
    if field:
        assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_timeline_by_identifier_and_customer_record(client: httpx.AsyncClient) -> None:
    body = (await client.get("/customers/phone:06 28 23 04 55/timeline")).json()
    assert sorted(i["message_id"] for i in body["items"]) == ["c1", "k1", "p1"]
    [card] = (await client.get("/lookup", params={"phone": "0628230455"})).json()["candidates"]
    record = (await client.get(f"/customers/{card['customer_id']}")).json()
    assert "email:siobhan@example.ie" in record["identifiers"]
    assert (await client.get("/customers/nobody")).status_code == 404
