"""The data inventory (issue 14, build 7): ``GET /audit/data`` and ``touchlog audit`` over
real PostgreSQL views: what each source system and business unit sent, the fields and
their tiers, counts, first and last seen, consent coverage, and who read what."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import from_mapping
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from tests.factories import BASE_TIME, event_dict, make_event
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
}
AGENT = {"Authorization": "Bearer t-agent"}
MANAGER = {"Authorization": "Bearer t-manager"}
LATER = BASE_TIME + timedelta(days=3)


def _consent(customer: str) -> Any:
    data = event_dict(customer=customer, message_id=f"{customer}-consent", business_unit="web")
    payload = {
        "purpose": "marketing",
        "channel": "email",
        "status": "granted",
        "legal_basis": "consent",
        "captured_via": "web preference centre",
    }
    return from_mapping(data | {"type": "consent.changed", "payload": payload})


EVENTS = [
    make_event("purchase.completed", customer="cust-b", business_unit="garden", message_id="b1"),
    make_event("call.logged", customer="cust-b", business_unit="garden", message_id="b2", at=LATER),
    make_event("call.logged", customer="cust-c", business_unit="garden", message_id="c1"),
    _consent("cust-b"),
]


@pytest.fixture
async def client(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, EVENTS)
        await ProfileView().apply(conn, EVENTS)
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


def _source(report: dict[str, Any], unit: str) -> dict[str, Any]:
    [found] = [s for s in report["sources"] if s["business_unit"] == unit]
    return found


async def test_the_inventory_lists_each_source_with_tiers_counts_consent_and_readers(
    client: httpx.AsyncClient,
) -> None:
    reveal = {"reveal": "service", "reason": "refund dispute"}
    read = await client.get("/customers/cust-b/timeline", params=reveal, headers=AGENT)
    assert read.status_code == 200

    answer = await client.get("/audit/data", headers=MANAGER)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    garden = _source(report, "garden")
    assert garden["source_system"] == "test-system"
    assert (garden["events"], garden["customers"]) == (3, 2)
    assert (garden["customers_with_consent"], garden["consent_coverage"]) == (1, 0.5)
    assert garden["first_seen"].startswith(BASE_TIME.date().isoformat())
    assert garden["last_seen"].startswith(LATER.date().isoformat())
    types = {t["type"]: t for t in garden["event_types"]}
    assert set(types) == {"purchase.completed", "call.logged"}
    assert (types["call.logged"]["events"], types["call.logged"]["customers"]) == (2, 2)
    purchase = types["purchase.completed"]["fields"]
    assert "total" in purchase["service"]
    assert "lines.sku" in purchase["service"]
    assert set(purchase) <= {"essential", "service", "restricted"}
    # Ann's reveal served purchase and call fields: she is listed as their reader.
    assert {(r["who"], r["role"], r["tier"]) for r in garden["readers"]} == {
        ("Ann Agent", "agent", "service")
    }
    web = _source(report, "web")
    assert (web["events"], web["consent_coverage"]) == (1, 1.0)
    # The same page served cust-b's consent decision: the web source's fields were read too.
    assert [r["who"] for r in web["readers"]] == ["Ann Agent"]
    [reader] = report["readers"]
    assert (reader["who"], reader["tier"], reader["reads"], reader["customers"]) == (
        "Ann Agent",
        "service",
        1,
        1,
    )
    assert "timeline_v1" in report["stores"]
    assert set(report["roles"]) == {"agent", "manager", "marketing"}


async def test_the_inventory_is_for_managers_only(client: httpx.AsyncClient) -> None:
    refused = await client.get("/audit/data", headers=AGENT)
    assert refused.status_code == 403
    assert "managers" in refused.json()["detail"]
    assert (await client.get("/audit/data")).status_code == 401


async def test_the_command_line_prints_the_same_inventory(
    client: httpx.AsyncClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from touchlog import cli, cli_audit
    from touchlog.settings import Settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    # The command itself, without ``command``'s logging set-up (it would outlive the test).
    args = cli.parser().parse_args(["audit", "--json"])
    assert await cli_audit.show_inventory(Settings(), args) == 0
    printed = json.loads(capsys.readouterr().out)
    served = (await client.get("/audit/data", headers=MANAGER)).json()
    assert printed["sources"] == served["sources"]

    assert await cli_audit.show_inventory(Settings(), cli.parser().parse_args(["audit"])) == 0
    text = capsys.readouterr().out
    assert "test-system / garden: 3 events, 2 customers, consent coverage 50%" in text
    assert "purchase.completed: 1 events, 1 customers." in text
