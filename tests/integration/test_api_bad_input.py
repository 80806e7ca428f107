"""What schemathesis found the API answering with a 500, answered with a 422 that names
the parameter: a NUL in any path or query value, moments at the ends of the date range,
a row id beyond ``bigint``, a cursor that was never handed out."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from projections.timeline.postgres import TimelineView
from tests.factories import make_event
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {"t-manager": Caller("Max", Role.MANAGER)}
NUL = "a\x00b"
NUL_IN_PATH = "a%00b"


@pytest.fixture
async def client(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, [make_event(customer="cust-1", message_id="m1")])
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


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# (path, query, the field the 422 names)
REFUSED: list[tuple[str, dict[str, str], list[object]]] = [
    (f"/customers/{NUL_IN_PATH}", {}, ["path", "customer_id"]),
    (f"/customers/{NUL_IN_PATH}/timeline", {}, ["path", "key"]),
    (f"/customers/{NUL_IN_PATH}/profile", {}, ["path", "customer_id"]),
    (f"/customers/{NUL_IN_PATH}/profile/history", {"field": "name"}, ["path", "customer_id"]),
    ("/customers/cust-1/profile/history", {"field": NUL}, ["query", "field"]),
    (f"/triggers/{NUL_IN_PATH}", {}, ["path", "trigger_id"]),
    (f"/triggers/{NUL_IN_PATH}/deliveries", {}, ["path", "trigger_id"]),
    ("/customers", {"query": NUL}, ["query", "query"]),
    ("/lookup", {"email": NUL}, ["query", "email"]),
    ("/lookup", {"phone": NUL}, ["query", "phone"]),
    ("/customers/cust-1/timeline", {"type": NUL}, ["query", "type", 0]),
    ("/customers/cust-1/timeline", {"before": NUL}, ["query", "before"]),
    ("/customers/cust-1/timeline", {"reveal": "service", "reason": NUL}, ["query", "reason"]),
    ("/triggers", {"customer_id": NUL}, ["query", "customer_id"]),
    ("/triggers", {"rule": NUL}, ["query", "rule", 0]),
    ("/audit/access", {"who": NUL}, ["query", "who"]),
    ("/audit/access", {"customer_id": NUL}, ["query", "customer_id"]),
    ("/customers/cust-1/profile", {"as_of": "0001-01-01T00:00:00+05:00"}, ["query", "as_of"]),
    ("/customers/cust-1/profile", {"as_of": "9999-12-31T23:59:59-05:00"}, ["query", "as_of"]),
    ("/customers/cust-1/profile", {"as_of": "2026-03-01T09:00:00"}, ["query", "as_of"]),
    ("/audit/access", {"since": "0001-01-01T00:00:00+01:00"}, ["query", "since"]),
    ("/audit/access", {"since": "9999-12-31T23:59:59.999999-01:00"}, ["query", "since"]),
    ("/audit/access", {"before_id": "99999999999999999999"}, ["query", "before_id"]),
    ("/audit/access", {"before_id": "9223372036854775808"}, ["query", "before_id"]),
    (
        "/customers/cust-1/timeline",
        {"before": _cursor("2026-03-01T09:00:00+00:00\x1fsys\x1fm\x00")},
        ["query", "before"],
    ),
    (
        "/customers/cust-1/timeline",
        {"before": _cursor("0001-01-01T00:00:00+05:00\x1fsys\x1fm")},
        ["query", "before"],
    ),
    ("/triggers", {"cursor": _cursor("2026-03-01T09:00:00\x1ft-1")}, ["query", "cursor"]),
]


async def test_what_postgresql_or_python_cannot_hold_is_a_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    answers = {}
    for path, params, _ in REFUSED:
        response = await client.get(path, params=params)
        answers[path, tuple(params.items())] = (
            response.status_code,
            [e["loc"] for e in response.json()["detail"]] if response.status_code == 422 else [],
        )
    assert answers == {(p, tuple(q.items())): (422, [loc]) for p, q, loc in REFUSED}


async def test_the_422_says_why_in_words(client: httpx.AsyncClient) -> None:
    [nul] = (await client.get("/customers", params={"query": NUL})).json()["detail"]
    assert nul["msg"] == r"must not contain NUL (\u0000): PostgreSQL cannot store it"
    [early] = (await client.get("/audit/access", params={"since": "1899-12-31T23:59:59Z"})).json()[
        "detail"
    ]
    assert early["msg"].startswith("Input should be greater than or equal to 1900-01-01")
    [huge] = (await client.get("/audit/access", params={"before_id": str(2**63)})).json()["detail"]
    assert huge["msg"] == f"Input should be less than or equal to {2**63 - 1}"


async def test_the_limits_themselves_are_served(client: httpx.AsyncClient) -> None:
    assert (
        await client.get("/audit/access", params={"before_id": str(2**63 - 1)})
    ).status_code == 200
    assert (
        await client.get("/audit/access", params={"since": "1900-01-01T00:00:00Z"})
    ).status_code == 200
    profile = await client.get(
        "/customers/cust-1/profile", params={"as_of": "2199-12-31T23:59:59+14:00"}
    )
    assert profile.status_code == 200
    assert profile.json()["as_of"] == "2199-12-31T23:59:59+14:00"
