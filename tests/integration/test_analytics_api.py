"""``GET /analytics/…`` for managers (JSON and CSV), refused to other roles, and the
charts page for a manager signed in to the rep's screen (issue 19, build points 3 and 4)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from api.web.session import COOKIE
from producers.demo.history import PLANTED, history_events
from projections import versions
from projections.metrics.postgres import MetricsView
from projections.metrics.readers import AnalyticsPolicy
from projections.triggers.model import Audience, Kind, Suppression, Trigger, trigger_id
from projections.triggers.postgres import TriggerStore
from tests.metrics_support import NOW
from touchlog.bootstrap import create_tables

TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
}
CUSTOMERS = 40


@pytest.fixture
async def client(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():  # as the live runner writes
        await conn.execute(f"SET LOCAL search_path TO {versions.search_path('metrics', 1)}")
        await MetricsView().apply(conn, list(history_events(CUSTOMERS, years=1, now=NOW)))
    app = create_app(database_url, tokens=TOKENS)
    app.state.analytics_policy = AnalyticsPolicy(
        min_cell_customers=3, campaign_costs=PLANTED.campaign_costs(CUSTOMERS)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_manager_gets_each_report_as_json_and_csv(client: httpx.AsyncClient) -> None:
    until = {"until": NOW.date().isoformat()}
    answer = await client.get("/analytics/year-on-year", params=until, headers=_as("t-manager"))
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    contacts = next(r for r in rows if r["metric"] == "contacts" and r["years_back"] == 1)
    assert contacts["this_period"] > contacts["then"] > 0

    exported = await client.get(
        "/analytics/campaigns",
        params={**until, "kind": "code", "format": "csv"},
        headers=_as("t-manager"),
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["key"] for r in table} == {PLANTED.paying_campaign, PLANTED.losing_campaign}
    assert all(r["cost"] for r in table)


async def test_other_roles_and_strangers_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/analytics/interests", headers=_as("t-agent"))).status_code == 403
    assert (await client.get("/analytics/interests")).status_code == 401
    assert (await client.get("/analytics/page")).status_code in (302, 303, 307)


async def test_the_page_shows_every_chart_to_a_signed_in_manager(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set(COOKIE, "t-manager")
    page = await client.get("/analytics/page")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 8
    assert "Age and income bands" in page.text
    chart = await client.get("/analytics/charts/seasons.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"
    assert "Revenue by month" in chart.text
    client.cookies.set(COOKIE, "t-agent")
    assert (await client.get("/analytics/charts/seasons.svg")).status_code == 403


async def test_the_command_line_writes_csv(
    client: httpx.AsyncClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from touchlog import cli, cli_analytics
    from touchlog.settings import Settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    argv = ["analytics", "interests", "--until", NOW.date().isoformat(), "--csv", "-"]
    # The command itself, without ``command``'s logging set-up (it would outlive the test).
    assert await cli_analytics.show_analytics(Settings(), cli.parser().parse_args(argv)) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert PLANTED.dead_interest in {r["category"] for r in rows}
    assert all(int(r["interested"]) >= int(r["converted"]) for r in rows)


async def test_trigger_conversions(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """A marketing trigger converts when its customer buys in the offered category within
    the conversion window; a suppressed one is counted apart, never as sent."""
    bought = await pool.fetchrow(
        "SELECT customer_id, category, day FROM metrics_bought_v1 ORDER BY day DESC LIMIT 1"
    )
    assert bought is not None
    before = datetime.combine(bought["day"], time(9), UTC) - timedelta(days=5)
    triggers = [
        _offer(bought["customer_id"], bought["category"], before),  # converts
        _offer(bought["customer_id"], "no-such-category", before),  # does not
        _offer(bought["customer_id"], bought["category"], before, Suppression.NO_CONSENT),
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL search_path TO {versions.search_path('triggers', 1)}")
        await TriggerStore().apply(conn, triggers)
    answer = await client.get(
        "/analytics/triggers",
        params={
            "since": (before - timedelta(days=1)).date().isoformat(),
            "until": NOW.date().isoformat(),
        },
        headers=_as("t-manager"),
    )
    rows = {r["offer"]: r for r in answer.json()["rows"]}
    assert rows[bought["category"]] == {
        "rule": "next-best-offer", "offer": bought["category"], "sent": 1, "suppressed": 1,
        "converted": 1, "conversion": 1.0,
    }  # fmt: skip
    assert rows["no-such-category"]["sent"] == 1
    assert rows["no-such-category"]["converted"] == 0


def _offer(
    customer_id: str, category: str, at: datetime, suppressed: Suppression | None = None
) -> Trigger:
    evidence = (f"evt-{category}-{suppressed}",)
    trigger = Trigger(
        trigger_id=trigger_id("next-best-offer", customer_id, evidence, category),
        rule="next-best-offer",
        rule_type="cross_sell",
        customer_id=customer_id,
        kind=Kind.MARKETING,
        audience=Audience.MARKETING,
        channel="email",
        reason="test",
        evidence=evidence,
        created_at=at,
        expires_at=at + timedelta(days=30),
        offer=category,
    )
    return trigger if suppressed is None else trigger.suppress(suppressed, "test")
