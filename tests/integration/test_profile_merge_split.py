"""Acceptance 3: merge then split; both profiles equal what a clean rebuild from the log gives.

Two people's records are merged by a person (``touchlog identity confirm``): the
survivor's profile shows the newest value of each field and both histories. Another
event arrives while they are merged. The merge is undone (``touchlog identity split``):
each profile is again its own. A second system, started from nothing on the same
``touchlog.touchpoints``, gives the very same profiles and histories.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Subject
from producers import Publisher
from projections.identity import postgres as identity
from projections.profile import FIELDS
from tests.factories import BASE_TIME
from tests.integration.kafka_support import publish_in_order
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.profile_support import ADDRESSES, touch
from tests.waiting import eventually
from touchlog import cli_identity
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

MOMENT = (BASE_TIME + timedelta(days=365)).isoformat()
HISTORIED = [f.name for f in FIELDS if not f.time_only]


def _event(kind: str, payload: dict[str, Any], subject: dict[str, str], days: int, mid: str):
    event = touch(kind, payload, at=BASE_TIME + timedelta(days=days), message_id=mid)
    return event.model_copy(update={"subject": Subject(**subject)})


def _profile(name: str, postal_code: str) -> dict[str, Any]:
    return {
        "name": {"given_name": name, "family_name": "Smith"},
        "addresses": [{**ADDRESSES[0][0], "postal_code": postal_code}],
    }


def _purchase(order_id: str, total: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "lines": [{"sku": "S", "category": "garden", "quantity": 1, "unit_price": total}],
        "currency": "EUR",
        "total": total,
        "payment_method": "card",
    }


JO = {"email": "jo.smith@example.com"}
JOANNA = {"email": "joanna.smith@example.org", "phone": "06 12 34 56 78"}
EVENTS = [
    _event("profile.updated", _profile("Jo", "75001"), JO, 1, "jo-1"),
    _event("purchase.completed", _purchase("O-1", "10.00"), JO, 2, "jo-2"),
    _event("profile.updated", _profile("Joanna", "13001"), JOANNA, 3, "ja-1"),
    _event("purchase.completed", _purchase("O-2", "25.00"), {"phone": "0612345678"}, 4, "ja-2"),
]
WHILE_MERGED = _event(
    "profile.updated", _profile("Joanna", "69001"), {"phone": "+33 6 12 34 56 78"}, 5, "ja-3"
)


@asynccontextmanager
async def _api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(database_url, tokens={"t": Caller("Max", Role.MANAGER)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer t"},
        ) as http,
    ):
        yield http


async def _snapshot(http: httpx.AsyncClient, customer: str) -> dict[str, Any]:
    """The profile at a fixed moment, and every field's history."""
    base = f"/customers/{customer}/profile"
    profile = (await http.get(base, params={"as_of": MOMENT})).json()
    histories = {}
    for name in HISTORIED:
        body = (await http.get(f"{base}/history", params={"field": name})).json()
        histories[name] = body.get("entries", body)
    for volatile in ("read_at", "audit_id"):
        profile.pop(volatile, None)
    return {"profile": profile, "history": histories}


async def _in_db(customers: tuple[str, str], database_url: str) -> dict[str, Any]:
    async with _api(database_url) as http:
        return {c: await _snapshot(http, c) for c in customers}


async def test_merge_then_split_gives_the_profiles_a_clean_rebuild_gives(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
    new_database: Callable[[], Awaitable[str]],
) -> None:
    settings = _settings(topics, broker, database_url)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], EVENTS)
        async with pipeline(settings, ends, pool):
            [jo] = await eventually(
                lambda: identity.customers_for(pool, "email:jo.smith@example.com"), bool
            )
            [joanna] = await eventually(
                lambda: identity.customers_for(pool, "phone:+33612345678"), bool
            )
            async with _api(database_url) as http:
                apart = await eventually(
                    lambda: _snapshot(http, joanna),
                    lambda s: s["profile"]["service"]["orders"] == 1,
                    what="Joanna's purchase in her profile",
                )
            confirm = argparse.Namespace(
                customer=jo,
                other=joanna,
                by="Ann (CRM)",
                reason="duplicate",
                survivor=jo,
                at=None,
                identity_command="confirm",
            )
            assert await cli_identity.confirm(settings, confirm) == 0
            await eventually(lambda: identity.survivor_of(pool, joanna), lambda s: s == jo)
            await publisher.publish(WHILE_MERGED)

            async with _api(database_url) as http:
                merged = await eventually(
                    lambda: _snapshot(http, joanna),
                    lambda s: s["profile"]["essential"]["addresses"][0]["postal_code"] == "69001",
                    what="the event sent while merged",
                )
            # The survivor's profile: newest value per field, both histories, both purchases.
            assert merged["profile"]["customer_id"] == jo
            assert merged["profile"]["merged_ids"] == sorted([jo, joanna])
            assert merged["profile"]["essential"]["name"]["given_name"] == "Joanna"
            assert merged["profile"]["service"]["lifetime_spend"] == {"EUR": "35.00"}
            codes = [e["value"][0]["postal_code"] for e in merged["history"]["addresses"]]
            assert codes == ["75001", "13001", "69001"]

            split = argparse.Namespace(
                original=jo,
                new=joanna,
                identifier=[],
                by="Max (CRM)",
                reason="two people",
                at=None,
                identity_command="split",
            )
            assert await cli_identity.split(settings, split) == 0
            await eventually(lambda: identity.survivor_of(pool, joanna), lambda s: s == joanna)
        after = await _in_db((jo, joanna), database_url)

    # Each is their own again; what arrived while merged stays where it was resolved then.
    assert after[joanna] == apart
    jo_profile = after[jo]["profile"]
    assert jo_profile["merged_ids"] == [jo]
    assert jo_profile["service"]["orders"] == 1
    assert jo_profile["essential"]["addresses"][0]["postal_code"] == "69001"

    # A clean rebuild: a new database and a new resolved topic, from the same log.
    rebuilt_url = await new_database()
    rebuilt_topics = topics | {"resolved": topics["resolved"] + ".rebuilt"}
    await ensure_topics(broker.bootstrap_servers, [rebuilt_topics["resolved"]], partitions=6)
    rebuilt_pool = await asyncpg.create_pool(rebuilt_url, min_size=1, max_size=4)
    try:
        rebuilt_settings = _settings(rebuilt_topics, broker, rebuilt_url)
        rebuilt_ends = endpoints(broker.bootstrap_servers, rebuilt_url)
        async with pipeline(rebuilt_settings, rebuilt_ends, rebuilt_pool):
            await eventually(
                lambda: _in_db((jo, joanna), rebuilt_url),
                lambda rebuilt: rebuilt == after,
                what="the rebuilt profiles equal the live ones",
            )
    finally:
        await rebuilt_pool.close()


def _settings(topics: dict[str, str], broker: EmbeddedBroker, database_url: str) -> Settings:
    return pipeline_settings(topics).model_copy(
        update={
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "database_url": database_url,
            "kafka_idempotence": False,
            # The clean rebuild reads the log into a new database, which holds no data keys.
            "seal_personal_data": False,
        }
    )
