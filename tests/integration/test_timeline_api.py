"""``GET /customers/{key}/timeline`` over a real database: paging, filters, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from api import create_app
from projections.timeline.postgres import TimelineView
from tests.factories import BASE_TIME, make_event
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    view = TimelineView()
    kinds = ["call.logged", "email.received", "purchase.completed", "complaint.opened"]
    events = [
        make_event(
            kinds[i % 4],
            customer="cust-api",
            message_id=f"m{i:03d}",
            at=BASE_TIME + timedelta(hours=i),
        )
        for i in range(45)
    ] + [make_event(customer="someone-else", message_id="other")]
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():
        await view.apply(conn, events)
    app = create_app(database_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


async def test_pages_newest_first_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 20} | ({"before": cursor} if cursor else {})
        body = (await client.get("/customers/cust-api/timeline", params=params)).json()
        seen += [item["message_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"m{i:03d}" for i in reversed(range(45))]


async def test_filters_by_channel_and_type(client: httpx.AsyncClient) -> None:
    by_type = (
        await client.get(
            "/customers/cust-api/timeline", params={"type": "purchase.completed", "limit": 200}
        )
    ).json()
    assert {i["type"] for i in by_type["items"]} == {"purchase.completed"}
    assert len(by_type["items"]) == 11
    by_channel = (
        await client.get(
            "/customers/cust-api/timeline", params=[("channel", "email"), ("channel", "store")]
        )
    ).json()
    assert {i["channel"] for i in by_channel["items"]} == {"email", "store"}
    assert len(by_channel["items"]) == 22


async def test_items_carry_summary_and_payload(client: httpx.AsyncClient) -> None:
    body = (
        await client.get(
            "/customers/cust-api/timeline", params={"limit": 1, "type": "complaint.opened"}
        )
    ).json()
    item = body["items"][0]
    assert item["message_id"] == "m043"
    assert item["summary"].startswith("Complaint C-1 opened (high)")
    assert item["payload"]["category"] == "delivery"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"before": "not-a-cursor!"}, "before"),
        ({"channel": "pigeon"}, "channel"),
        ({"type": "telepathy.used"}, "type"),
    ],
)
async def test_bad_query_is_a_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get("/customers/cust-api/timeline", params=params)
    assert response.status_code == 422
    assert [e["loc"][1] for e in response.json()["detail"]] == [field]


async def test_unknown_subject_has_an_empty_timeline(client: httpx.AsyncClient) -> None:
    body = (await client.get("/customers/nobody/timeline")).json()
    assert body == {"subject_key": "nobody", "items": [], "next_cursor": None}


async def test_healthz_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert "/customers/{key}/timeline" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
