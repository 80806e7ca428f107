"""Shared numbers through the real resolver and API: a household landline and a switchboard
nobody configured are found shared, merge nobody, and ``/lookup`` answers ambiguous with
every person on them."""

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
from projections.identity.report import identity_report
from projections.timeline.postgres import TABLE as TIMELINE
from projections.timeline.postgres import count_rows
from tests.factories import BASE_TIME, event_dict
from tests.integration.kafka_support import publish_in_order
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

HOUSEHOLD = "01 40 50 60 70"
SWITCHBOARD = "04 72 10 20 30"
STAFF = ("Ada Byron", "Ben Okri", "Cleo Dumas", "Dev Patel", "Eva Smith")


def _profile(message_id: str, hours: int, email: str, phone: str, name: str) -> dict[str, Any]:
    data = _call(message_id, hours, {"email": email, "phone": phone})
    given, family = name.split()
    payload = {"name": {"given_name": given, "family_name": family}}
    return data | {"type": "profile.updated", "payload": payload}


def _call(message_id: str, hours: int, subject: dict[str, Any]) -> dict[str, Any]:
    data = event_dict("call.logged", message_id=message_id, at=BASE_TIME + timedelta(hours=hours))
    data["subject"] = subject
    return data


def _events() -> list[dict[str, Any]]:
    events = [
        _profile("h1", 1, "ann@home.fr", HOUSEHOLD, "Ann Martin"),
        _profile("h2", 2, "bob@home.fr", "01.40.50.60.70", "Bob Martin"),
        # the landline again, alone and with each person's email
        _call("h3", 3, {"phone": "+33 1 40 50 60 70"}),
        _call("h4", 4, {"email": "ANN@home.fr", "phone": HOUSEHOLD}),
        _call("h5", 5, {"email": "bob@home.fr", "phone": HOUSEHOLD}),
    ]
    for n, name in enumerate(STAFF):
        email = f"{name.split()[0].lower()}@acme.example"
        events.append(_profile(f"s{n}", 10 + n, email, SWITCHBOARD, name))
    events.append(_call("s-call", 20, {"phone": SWITCHBOARD}))
    return events


@pytest.fixture
async def client(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    rules = IdentityRules()  # nothing configured as shared
    events = _events()
    settings = pipeline_settings(topics)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], events)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with pipeline(settings, ends, pool, rules=rules):
        await eventually(
            lambda: count_rows(pool), lambda n: n >= len(events), what=f"{len(events)} rows"
        )
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


def _names(body: dict[str, Any]) -> list[str]:
    return sorted(f"{c['given_name']} {c['family_name']}" for c in body["candidates"])


async def test_a_household_landline_is_ambiguous_between_both_people(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    for written in ("0140506070", "+33 1 40 50 60 70", "0033 1 40 50 60 70"):
        body = (await client.get("/lookup", params={"phone": written})).json()
        assert body["identifier"] == "phone:+33140506070"
        assert _names(body) == ["Ann Martin", "Bob Martin"]
        assert (body["ambiguous"], body["shared"]) == (True, True)
        assert "shared" in body["not_matched"]
    # each person's email still names them alone
    for email, name in (("ann@home.fr", "Ann Martin"), ("bob@home.fr", "Bob Martin")):
        body = (await client.get("/lookup", params={"email": email})).json()
        assert _names(body) == [name]
        assert body["ambiguous"] is False


async def test_an_unconfigured_switchboard_is_ambiguous_between_everyone(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/lookup", params={"phone": "+33472102030"})).json()
    assert _names(body) == sorted(STAFF)
    assert (body["ambiguous"], body["shared"]) == (True, True)


async def test_no_merge_was_made_and_the_report_lists_both_numbers(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    assert await pool.fetchval("SELECT count(*) FROM identity_merges") == 0
    # the calls with only a shared number matched nobody and were linked to no one
    calls = await pool.fetch(
        f"SELECT subject_key FROM {TIMELINE} WHERE message_id IN ('h3', 's-call')"
    )
    holders = await pool.fetch("SELECT customer_id FROM identity_links")
    assert len(calls) == 2
    assert {r["subject_key"] for r in calls}.isdisjoint({r["customer_id"] for r in holders})
    async with pool.acquire() as conn:
        report = await identity_report(conn)
    shared = {s.identifier: s for s in report.shared_identifiers}
    assert sorted(shared) == ["phone:+33140506070", "phone:+33472102030"]
    assert len(shared["phone:+33140506070"].customers) == 2
    assert len(shared["phone:+33472102030"].customers) == len(STAFF)
    assert shared["phone:+33140506070"].message_id == "h2"
    assert report.as_json()["shared_identifiers"][0]["identifier"] == "phone:+33140506070"
