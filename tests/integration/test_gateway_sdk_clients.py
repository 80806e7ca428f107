"""Segment's and RudderStack's official Python clients, pointed at the gateway: identify,
track, page and alias land in the log; the pipeline puts their facts in the profile and
the timeline, and ``/lookup?email=`` finds the identified people.

RudderStack's client sends identify traits only in ``context.traits``, and gzips its
batches by default; Segment's sends ``traits``, uncompressed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from rudderstack.analytics import Client as RudderClient  # type: ignore[import-untyped]
from segment.analytics import Client as SegmentClient  # type: ignore[import-untyped]

from api import create_app
from api.auth import Caller
from api.roles import Role
from projections.timeline.postgres import count_rows
from tests.integration.gateway_support import gateway_app, logged_events, served, write_key
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _send_with_both_clients(url: str, key: str) -> list[Exception]:
    """What a web shop's backends do (blocking: run in a thread)."""
    errors: list[Exception] = []
    segment = SegmentClient(
        write_key=key, host=url, sync_mode=True, on_error=lambda e, _: errors.append(e)
    )
    segment.identify(
        "S-1", {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
        anonymous_id="s-anon",
    )  # fmt: skip
    segment.track("S-1", "Video Played", {"video_id": "v-7"})
    segment.page("S-1", name="Pricing", properties={"url": "https://shop.example.com/p"})
    segment.alias("s-phone", "S-1")
    segment.flush()

    rudder = RudderClient(
        write_key=key, host=url, sync_mode=True, on_error=lambda e, _: errors.append(e)
    )
    assert rudder.gzip, "RudderStack's default: gzip"
    rudder.identify(
        "R-1", {"firstName": "Bo", "lastName": "Berg", "email": "bo@example.com", "plan": "pro"}
    )
    rudder.track("R-1", "Video Played", {"video_id": "v-9"})
    rudder.page("R-1", name="Checkout", properties={"url": "https://shop.example.com/c"})
    rudder.alias("r-phone", "R-1")
    rudder.flush()
    return errors


async def test_both_official_clients_reach_profile_timeline_and_lookup(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    gateway = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])

    async with served(gateway) as url:
        errors = await asyncio.to_thread(_send_with_both_clients, url, key)

    assert errors == []
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert Counter(e["type"] for e in logged) == {
        "profile.updated": 2,
        "event.tracked": 4,
        "identity.linked": 2,
    }
    async with pipeline(
        pipeline_settings(topics), endpoints(broker.bootstrap_servers, database_url), pool
    ):
        await eventually(lambda: count_rows(pool), lambda n: n >= 6, what="6 timeline rows")

    # A manager: event properties are in the restricted tier, which an agent does not see.
    app = create_app(database_url, tokens={"t-manager": Caller("Max Manager", Role.MANAGER)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api",
            headers={"Authorization": "Bearer t-manager"},
        ) as api,
    ):
        for email, user_id, names, page, video in [
            ("ann@example.com", "S-1", ("Ann", "Lee"), "Pricing", "v-7"),
            ("bo@example.com", "R-1", ("Bo", "Berg"), "Checkout", "v-9"),
        ]:
            found = await api.get("/lookup", params={"email": email})
            assert found.status_code == 200, found.text
            [card] = found.json()["candidates"]
            assert (card["given_name"], card["family_name"]) == names
            customer = card["customer_id"]

            profile = (await api.get(f"/customers/{customer}/profile")).json()
            assert _emails(profile) == [email], profile

            timeline = (await api.get(f"/customers/{customer}/timeline")).json()
            items = {(i["type"], i["payload"].get("call")): i for i in timeline["items"]}
            assert sorted(items) == [
                ("event.tracked", "page"),
                ("event.tracked", "track"),
                ("profile.updated", None),
            ], timeline
            assert items["event.tracked", "page"]["summary"] == f"Tracked page '{page}'"
            assert items["event.tracked", "page"]["payload"]["properties"]["url"].startswith(
                "https://shop.example.com/"
            )
            assert items["event.tracked", "track"]["payload"]["properties"]["video_id"] == video

            record = (await api.get(f"/customers/{customer}")).json()
            identifiers = set(record["identifiers"])
            assert f"external_id:web-shop:{user_id}" in identifiers
            phone_id = "s-phone" if user_id == "S-1" else "r-phone"
            assert f"anonymous_id:{phone_id}" in identifiers, identifiers  # the alias


def _emails(profile: dict[str, Any]) -> list[str]:
    """The addresses of a profile response, wherever its sections put them."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("address"), str) and "@" in node["address"]:
                found.append(node["address"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(profile)
    return sorted(set(found))
