"""Segment's own Python client, pointed at the gateway, lands in the log and the timeline.

The client (``segment-analytics-python`` from PyPI) posts to ``/v1/batch`` with HTTP
Basic ``writeKey:``; the gateway runs on a real uvicorn server on a free port.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import pytest
from segment.analytics import Client  # type: ignore[import-untyped]

from projections.caller.postgres import caller_card
from projections.identity import postgres as identity
from projections.timeline.postgres import count_rows, fetch_timeline
from tests.integration.gateway_support import gateway_app, logged_events, served, write_key
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _send_as_a_web_shop(host: str, key: str) -> list[Exception]:
    """What a web shop's backend does with the Segment client (blocking: run in a thread)."""
    errors: list[Exception] = []
    client = Client(
        write_key=key, host=host, sync_mode=True, on_error=lambda e, _: errors.append(e)
    )
    client.track(anonymous_id="anon-1", event="Product Viewed", properties={
        "product_id": "SKU-1", "name": "Kettle", "category": "kitchen", "price": 20,
        "currency": "EUR", "url": "https://shop.example.com/p/sku-1",
    })  # fmt: skip
    client.identify(
        "U-42",
        {"firstName": "Ann", "lastName": "Lee", "email": "ann.lee@example.com", "plan": "gold"},
        anonymous_id="anon-1",
    )
    client.track("U-42", "Order Completed", {
        "order_id": "O-9", "total": 27.5, "currency": "EUR",
        "products": [
            {"product_id": "SKU-1", "name": "Kettle", "price": 20, "quantity": 1},
            {"product_id": "SKU-2", "name": "Mug", "price": 7.5},
        ],
    })  # fmt: skip
    client.track("U-42", "Video Played", {"video_id": "v-7", "seconds": 31})
    client.flush()
    # Another device of hers, its library compressing: alias ties its anonymous id to her.
    mobile = Client(
        write_key=key, host=host, sync_mode=True, gzip=True, on_error=lambda e, _: errors.append(e)
    )
    mobile.alias("anon-9", "U-42")
    mobile.flush()
    return errors


async def test_identify_and_track_from_the_segment_client_reach_the_customers_timeline(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])

    async with served(app) as url:
        errors = await asyncio.to_thread(_send_as_a_web_shop, url, key)

    assert errors == []
    logged = await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    assert Counter(e["type"] for e in logged) == {
        "product.viewed": 1,
        "profile.updated": 1,
        "purchase.completed": 1,
        "event.tracked": 1,
        "identity.linked": 1,
    }
    assert all(e["source"]["system"] == "web-shop" for e in logged)

    settings = pipeline_settings(topics)
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        await eventually(lambda: count_rows(pool), lambda n: n >= 4, what="4 timeline rows")

    [customer] = await identity.customers_for(pool, "external_id:web-shop:U-42")
    assert await identity.customers_for(pool, "anonymous_id:anon-1") == [customer]
    assert await identity.customers_for(pool, "email:ann.lee@example.com") == [customer]
    assert await identity.customers_for(pool, "anonymous_id:anon-9") == [customer]  # alias
    page = await fetch_timeline(pool, [customer], limit=50)
    entries: list[Any] = page.entries
    assert sorted(row["type"] for row in entries) == [
        "event.tracked",
        "product.viewed",
        "profile.updated",
        "purchase.completed",
    ]
    summaries = {row["type"]: row["summary"] for row in entries}
    assert summaries["event.tracked"] == "Tracked 'Video Played'"
    assert summaries["purchase.completed"].startswith("Purchased 2 items for 27.5")
    card = await caller_card(pool, customer, [customer])
    assert (card["given_name"], card["family_name"]) == ("Ann", "Lee")
