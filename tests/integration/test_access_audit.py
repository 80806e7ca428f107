"""Issue 14, acceptance 4: every read of a customer is in the access audit, and an agent
sees no service-tier value without a reveal, on any route of the API or the screen.

One customer has every profile field and a timeline holding distinctive service and
restricted values (``tests.profile_support.SENTINELS``), and a call-back task whose reason
quotes a survey rating. The routes are walked from the app itself (the OpenAPI paths and
the screen's routes), so a new route is walked too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from api import create_app
from api.auth import Caller
from api.roles import Role
from api.web.session import COOKIE, CSRF_HEADER, csrf_token
from projections.profile import FIELDS
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from projections.triggers.model import Kind
from projections.triggers.postgres import TriggerStore
from projections.triggers.subscriptions import Subscription
from tests.integration.trigger_support import make_trigger, store
from tests.profile_support import SENTINELS, full_profile_events
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

CUSTOMER = "cust-full"
PHONE = "+33612345678"
TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
    "t-marketing": Caller("Mia Marketing", Role.MARKETING),
}
AGENT = {"Authorization": "Bearer t-agent"}
MANAGER = {"Authorization": "Bearer t-manager"}
RATING = "rated 'SENTINEL-QUESTION' 2/5, NPS 6"
TASK = make_trigger("survey-follow-up", CUSTOMER, kind=Kind.SERVICE).model_copy(
    update={"rule_type": "survey_follow_up", "reason": f"Call back: {RATING}"}
)
SERVICE_VALUES = [*SENTINELS["service"].values(), RATING, "SENTINEL-QUESTION"]
RESTRICTED_VALUES = [v for v in SENTINELS["restricted"].values() if len(v) < 40]
REVEAL = {"reveal": "service", "reason": "customer asked about a refund"}


@pytest.fixture
async def world(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    events = full_profile_events(CUSTOMER)
    born = datetime(2026, 1, 1, tzinfo=UTC)
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, events)
        await ProfileView().apply(conn, events)
        await conn.execute(
            "INSERT INTO identity_customers (customer_id, born_at, born_from) VALUES ($1, $2, 'x')",
            CUSTOMER,
            born,
        )
        await conn.execute(
            "INSERT INTO identity_links (identifier, customer_id, source_system, message_id, "
            "linked_at) VALUES ($1, $2, 'crm', 'm1', $3)",
            f"phone:{PHONE}",
            CUSTOMER,
            born,
        )
    await store(pool, [TASK], TriggerStore([Subscription("crm")]))
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        http.app = app  # type: ignore[attr-defined]  # the walk reads the app's routes
        yield http


async def _audit(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await client.get("/audit/access", params={"limit": 500}, headers=MANAGER)
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


async def test_a_lookup_a_search_and_a_trigger_list_by_an_agent_each_leave_an_entry(
    world: httpx.AsyncClient,
) -> None:
    lookup = await world.get("/lookup", params={"phone": "06 12 34 56 78"}, headers=AGENT)
    assert [c["customer_id"] for c in lookup.json()["candidates"]] == [CUSTOMER]
    search = await world.get("/customers", params={"query": "ann@example.com"}, headers=AGENT)
    assert [m["customer_id"] for m in search.json()["matches"]] == [CUSTOMER]
    listed = await world.get("/triggers", headers=AGENT)
    assert [t["trigger_id"] for t in listed.json()["triggers"]] == [TASK.trigger_id]

    records = {r["endpoint"]: r for r in await _audit(world)}
    assert set(records) == {"lookup", "search", "triggers"}
    for record in records.values():
        assert (record["who"], record["role"], record["reason"]) == (
            "Ann Agent",
            "agent",
            "service",
        )
        assert record["customer_ids"] == [CUSTOMER]
        assert record["tier"] == "essential"
        assert record["fields"] == []
    assert records["lookup"]["route"] == "/lookup"
    assert records["lookup"]["detail"] == {"kind": "phone", "masked": "••••••••78"}
    assert records["search"]["route"] == "/customers"
    assert records["search"]["detail"] == {"kind": "email", "masked": "a•••@e•••.com"}
    assert records["triggers"]["id"] == listed.json()["audit_id"]
    # What was searched for is never stored as typed.
    stored = await world.get("/audit/access", headers=MANAGER)
    for typed in ("06 12 34 56 78", "3361234", "ann@example.com", "example.com"):
        assert typed not in stored.text


async def test_a_lookup_that_finds_nobody_is_recorded_too(world: httpx.AsyncClient) -> None:
    answer = await world.get("/lookup", params={"email": "nobody@example.net"}, headers=AGENT)
    assert answer.json()["candidates"] == []
    [record] = await _audit(world)
    assert (record["endpoint"], record["customer_ids"], record["customer_id"]) == (
        "lookup",
        [],
        None,
    )
    assert record["detail"] == {"kind": "email", "masked": "n•••@e•••.net"}


async def test_reading_the_audit_is_for_managers_only(world: httpx.AsyncClient) -> None:
    for token in ("t-agent", "t-marketing"):
        answer = await world.get("/audit/access", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403
        assert "managers" in answer.json()["detail"]
    assert (await world.get("/audit/access")).status_code == 401
    assert (await world.get("/audit/access", headers=MANAGER)).status_code == 200


async def test_an_agent_reads_a_triggers_reason_only_revealed_and_audited(
    world: httpx.AsyncClient,
) -> None:
    plain = (await world.get("/triggers", headers=AGENT)).json()["triggers"][0]
    assert RATING not in plain["reason"]
    assert plain["reason"].startswith("Call back: the customer rated us low")
    assert plain["reason_withheld"] is True
    unnamed = await world.get("/triggers", params=REVEAL, headers=AGENT)
    assert unnamed.status_code == 422
    assert "customer_id" in unnamed.text
    revealed = await world.get(
        "/triggers", params=REVEAL | {"customer_id": CUSTOMER}, headers=AGENT
    )
    assert revealed.json()["triggers"][0]["reason"] == f"Call back: {RATING}"
    one = await world.get(f"/triggers/{TASK.trigger_id}", headers=AGENT)
    assert RATING not in one.text
    assert one.json()["audit_id"] is not None
    manager = (await world.get("/triggers", headers=MANAGER)).json()["triggers"][0]
    assert manager["reason"] == f"Call back: {RATING}"

    records = {r["id"]: r for r in await _audit(world)}
    served = records[revealed.json()["audit_id"]]
    assert (served["tier"], served["fields"], served["reason"]) == (
        "service",
        ["trigger.reason"],
        REVEAL["reason"],
    )
    assert records[one.json()["audit_id"]]["tier"] == "essential"


# --- the walk ------------------------------------------------------------------------------


def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], bool]]:
    """(path, methods, in the OpenAPI schema) of every route, included routers walked."""

    def walk(routes: list[Any]) -> Iterator[tuple[str, set[str], bool]]:
        for route in routes:
            inner = getattr(route, "original_router", None) or getattr(route, "routes", None)
            if inner is not None and not hasattr(route, "methods"):
                yield from walk(list(getattr(inner, "routes", inner)))
            elif getattr(route, "methods", None):
                yield route.path, set(route.methods), bool(route.include_in_schema)

    yield from walk(list(app.router.routes))


SKIPPED = {
    "/view/{customer_id}/live": "server-sent events of the same redacted timeline rows as "
    "/view/{customer_id}/timeline (it never ends)",
    "/docs": "the API's documentation page",
    "/docs/oauth2-redirect": "the documentation's sign-in helper",
    "/openapi.json": "the API's description",
    "/signin": "the sign-in page",
}


def _values(cursor: str) -> dict[str, list[Any]]:
    """Values for every parameter a walked route takes, by name."""
    return {
        "customer_id": [CUSTOMER],
        "key": [CUSTOMER, f"phone:{PHONE}"],
        "trigger_id": [TASK.trigger_id],
        "name": ["x"],
        "report": ["year-on-year"],
        "chart": ["year-on-year"],
        "query": ["Niamh", "ann@example.com"],
        "q": ["Niamh"],
        "phone": [PHONE],
        "channel": ["email"],
        "field": [f.name for f in FIELDS],
        "before": [cursor],
    }


def _requests(app: FastAPI, cursor: str) -> list[tuple[str, dict[str, Any]]]:
    spec = app.openapi()["paths"]
    values = _values(cursor)
    requests: list[tuple[str, dict[str, Any]]] = []
    for path, methods, documented in _routes(app):
        if "GET" not in methods or path in SKIPPED or path.startswith("/static"):
            continue
        names = re.findall(r"{(\w+)}", path)
        query: list[str] = []
        if documented:
            parameters = spec[path]["get"].get("parameters", [])
            query = [p["name"] for p in parameters if p["in"] == "query" and p["required"]]
        elif path in ("/", "/call", "/view/{customer_id}/timeline/more"):
            query = {"/": ["q"], "/call": ["phone"]}.get(path, ["before"])
        missing = [n for n in names + query if n not in values]
        assert not missing, f"{path}: give the walk a value for {missing}"
        for choice in range(max(len(values[n]) for n in names + query) if names + query else 1):
            filled = {n: values[n][min(choice, len(values[n]) - 1)] for n in names + query}
            url = path.format(**{n: filled[n] for n in names})
            requests.append((url, {n: filled[n] for n in query}))
        if path == "/lookup":
            requests.append((url, {"phone": PHONE}))
    return requests


async def test_an_agent_sees_no_service_value_without_a_reveal_on_any_route(
    world: httpx.AsyncClient,
) -> None:
    app: FastAPI = world.app  # type: ignore[attr-defined]
    cursor = (
        await world.get(f"/customers/{CUSTOMER}/timeline", params={"limit": 1}, headers=MANAGER)
    ).json()["next_cursor"]
    assert cursor
    requests = _requests(app, cursor)
    walked = {url.split("?")[0] for url, _ in requests}
    for expected in ("/triggers", f"/customers/{CUSTOMER}/profile", f"/view/{CUSTOMER}", "/"):
        assert expected in walked
    served = 0
    for url, params in requests:
        for how in ("token", "screen"):
            headers = AGENT if how == "token" else {}
            cookies = {COOKIE: "t-agent"} if how == "screen" else {}
            world.cookies.clear()
            world.cookies.update(cookies)
            answer = await world.get(url, params=params, headers=headers)
            served += answer.status_code == 200
            for value in SERVICE_VALUES + RESTRICTED_VALUES:
                assert value not in answer.text, (url, params, how, value)
    world.cookies.clear()
    assert served > 20

    # The writes that answer with a trigger: acknowledged by token, closed from the screen.
    acknowledged = await world.post(f"/triggers/{TASK.trigger_id}/acknowledge", headers=AGENT)
    assert acknowledged.status_code == 200
    world.cookies.update({COOKIE: "t-agent"})
    closed = await world.post(
        f"/view/triggers/{TASK.trigger_id}/close", headers={CSRF_HEADER: csrf_token("t-agent")}
    )
    world.cookies.clear()
    assert closed.status_code == 200
    for answer in (acknowledged, closed):
        assert RATING not in answer.text

    # The same values do reach an agent who reveals the service tier, and a manager: the
    # walk would see them.
    revealed = await world.get(f"/customers/{CUSTOMER}/profile", params=REVEAL, headers=AGENT)
    assert "SENTINEL-ORDER" in revealed.text
    timeline = await world.get(f"/customers/{CUSTOMER}/timeline", params=REVEAL, headers=AGENT)
    assert "SENTINEL-SKU" in timeline.text
    assert RATING in (await world.get("/triggers", headers=MANAGER)).text


async def test_the_screen_records_its_reads_as_the_api_does(world: httpx.AsyncClient) -> None:
    world.cookies.update({COOKIE: "t-agent"})
    assert (await world.get("/call", params={"phone": "06 12 34 56 78"})).status_code == 200
    assert (await world.get(f"/view/{CUSTOMER}")).status_code == 200
    assert (await world.get("/", params={"q": "Niamh"})).status_code == 200
    world.cookies.clear()
    records = await _audit(world)
    assert {(r["endpoint"], r["route"]) for r in records} >= {
        ("lookup", "/call"),
        ("triggers", "/call"),
        ("profile", "/view/{customer_id}"),
        ("timeline", "/view/{customer_id}"),
        ("search", "/"),
    }
    assert all(r["who"] == "Ann Agent" and CUSTOMER in r["customer_ids"] for r in records)


def test_the_walk_sees_included_routers() -> None:
    app = create_app("postgresql://nowhere/none", tokens=TOKENS)
    paths = {path for path, _, _ in _routes(app)}
    assert {"/triggers", "/customers/{customer_id}/profile", "/view/{customer_id}", "/"} <= paths
