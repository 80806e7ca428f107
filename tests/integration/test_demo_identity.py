"""The demo through the real resolver: one live customer per simulated person, and every
phone a demo profile shows found by ``/lookup``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events.touchpoints import ProfileUpdated
from producers.demo import SHOWCASE, demo_events
from projections.identity import IdentityRules
from tests.integration.kafka_support import publish_in_order
from tests.integration.pipeline_support import (
    endpoints,
    pipeline,
    pipeline_settings,
    resolver_position,
)
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUSTOMERS = 120


async def test_one_live_customer_per_person_and_every_profile_phone_found(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> None:
    events = demo_events(CUSTOMERS, now=NOW, region="FR")
    # The demo's people: its customers, and the namesakes a person kept (or split) apart.
    namesakes = {
        e.subject.customer_id
        for e in events
        if e.subject.customer_id and re.fullmatch(r"C-[78]\d{5}", e.subject.customer_id)
    }
    people = CUSTOMERS + len(namesakes)
    phones = {
        phone.number: e.subject.customer_id
        for e in events
        if isinstance(e, ProfileUpdated)
        for phone in e.payload.phones or ()
    }
    rules = IdentityRules(default_region="FR")
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], events)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with pipeline(pipeline_settings(topics, default_region="FR"), ends, pool, rules=rules):
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            lambda n: n == len(events),
            what=f"{len(events)} events resolved",
            timeout=60,
        )
        live = await pool.fetchval(
            "SELECT count(*) FROM identity_customers WHERE merged_into IS NULL"
        )
        showcase_merged_into = await pool.fetchval(
            "SELECT merged_into FROM identity_customers WHERE customer_id = $1", SHOWCASE
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

            async def found() -> dict[str, list[str]]:
                answers = {}
                for phone in phones:
                    body = (await http.get("/lookup", params={"phone": phone})).json()
                    answers[phone] = [c["customer_id"] for c in body["candidates"]]
                return answers

            answers = await eventually(
                found,
                lambda a: all(a[p] == [c] for p, c in phones.items()),
                what="every profile phone found",
                timeout=30,
            )
            showcase_phone = next(p for p, c in phones.items() if c == SHOWCASE)

            async def showcase_cards() -> list[dict[str, object]]:
                body = (await http.get("/lookup", params={"phone": showcase_phone})).json()
                cards: list[dict[str, object]] = body["candidates"]
                return cards

            # The card's name is read from the timeline, a stage of its own that may still
            # be behind the resolver that made the phone findable.
            [showcase] = await eventually(
                showcase_cards,
                lambda cards: len(cards) != 1 or bool(cards[0]["given_name"]),
                what="the example customer's card with its name",
                timeout=30,
            )

    print(
        f"demo: {people} people simulated, {live} live customers, "
        f"{sum(a == [phones[p]] for p, a in answers.items())}/{len(phones)} phones found"
    )
    assert abs(live - people) <= 0.05 * people
    assert showcase_merged_into is None
    assert showcase["given_name"], "the banner's example customer has a name"
