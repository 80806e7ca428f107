"""``GET /customers/{key}/timeline`` over a real database: paging, filters, errors, tiers.

The client holds a manager's token (every tier, each page audited); the tier tests use
an agent's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from projections.timeline.postgres import TimelineView
from tests.factories import BASE_TIME, make_event
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {"t-manager": Caller("Max", Role.MANAGER), "t-agent": Caller("Ann", Role.AGENT)}
AGENT = {"Authorization": "Bearer t-agent"}


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
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer t-manager"},
        ) as http,
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


async def test_an_unknown_subject_is_a_404_as_on_every_customer_route(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/customers/nobody/timeline", "/customers/nobody/profile", "/customers/nobody"):
        response = await client.get(path)
        assert (response.status_code, response.json()) == (404, {"detail": "no customer nobody"})
    by_identifier = await client.get("/customers/email:nobody@example.com/timeline")
    assert by_identifier.status_code == 404
    assert by_identifier.json()["detail"] == "email:nobody@example.com leads to no customer"


async def test_a_customer_only_the_timeline_knows_yet_is_known(client: httpx.AsyncClient) -> None:
    body = (await client.get("/customers/someone-else")).json()
    assert body == {
        "customer_id": "someone-else",
        "born_at": None,
        "merged_ids": ["someone-else"],
        "identifiers": [],
        "next_best_offers": [],  # nothing bought, nothing co-purchased
    }
    timeline = (await client.get("/customers/someone-else/timeline")).json()
    assert [i["message_id"] for i in timeline["items"]] == ["other"]


async def test_an_agent_sees_service_data_only_when_revealed_with_a_reason_and_audited(
    client: httpx.AsyncClient,
) -> None:
    params = {"limit": 4}
    plain = (await client.get("/customers/cust-api/timeline", params=params, headers=AGENT)).json()
    assert [i["type"] for i in plain["items"]] == [
        "call.logged",
        "complaint.opened",
        "purchase.completed",
        "email.received",
    ]
    assert all(i["summary"] is None and i["payload"] == {} for i in plain["items"])
    assert plain["withheld"] == ["restricted", "service"]
    assert plain["audit_id"] is not None  # every read is audited, essential ones too
    no_reason = await client.get(
        "/customers/cust-api/timeline", params={"reveal": "service"}, headers=AGENT
    )
    assert no_reason.status_code == 422
    restricted = await client.get(
        "/customers/cust-api/timeline",
        params={"reveal": "restricted", "reason": "curious"},
        headers=AGENT,
    )
    assert restricted.status_code == 403
    assert "restricted" in restricted.json()["detail"]
    revealed = (
        await client.get(
            "/customers/cust-api/timeline",
            params=params | {"reveal": "service", "reason": "refund dispute"},
            headers=AGENT,
        )
    ).json()
    assert revealed["items"][2]["summary"].startswith("Purchased 2 items")
    assert revealed["items"][2]["payload"]["total"] == "59.80"
    records = {r["id"]: r for r in (await client.get("/audit/access")).json()["records"]}
    essential, record = records[plain["audit_id"]], records[revealed["audit_id"]]
    assert (essential["tier"], essential["fields"], essential["reason"]) == (
        "essential",
        [],
        "service",
    )
    assert (record["who"], record["role"], record["reason"]) == ("Ann", "agent", "refund dispute")
    assert (record["tier"], record["route"]) == ("service", "/customers/{key}/timeline")
    assert "purchase.completed.total" in record["fields"]


async def test_without_a_token_the_timeline_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/customers/cust-api/timeline", headers={"Authorization": ""})
    assert response.status_code == 401


async def test_healthz_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert "/customers/{key}/timeline" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
