"""On five generated years, the analytics find the trends ``producers.demo.history``
planted, and the cross-reference suppresses small cells (issue 19, acceptance 2)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from producers.demo.history import PLANTED, history_events
from projections import db
from projections.metrics import queries
from projections.metrics.postgres import MetricsView
from tests.metrics_support import NOW

CUSTOMERS = 250
UNTIL = date(NOW.year, NOW.month, 1)
SINCE = queries.years_before(UNTIL, 1)


@pytest.fixture(scope="module")
async def history(server_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Five years applied once for the module's tests (read only)."""
    name = f"touchlog_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            await _load(pool)
            yield pool
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _load(pool: asyncpg.Pool) -> None:
    view, batch = MetricsView(), []
    async with pool.acquire() as conn:
        await db.create_tables(conn, *view.schema)
        for event in history_events(CUSTOMERS, years=5, now=NOW):
            batch.append(event)
            if len(batch) == 5000:
                async with conn.transaction():
                    await view.apply(conn, batch)
                batch = []
        async with conn.transaction():
            await view.apply(conn, batch)


async def test_the_growth_shows_year_on_year(history: asyncpg.Pool) -> None:
    rows = await queries.compare_periods(history, SINCE, UNTIL)
    contacts = {r["years_back"]: r for r in rows if r["metric"] == "contacts"}
    growth = PLANTED.growth
    for years in (1, 3, 5):
        expected = (1 + growth) ** years - 1
        assert contacts[years]["flagged"]
        assert expected * 0.6 < contacts[years]["change"] < expected * 1.4, contacts[years]


async def test_the_seasonal_peak_and_the_saturday_shoppers(history: asyncpg.Pool) -> None:
    start = queries.years_before(UNTIL, 5)
    revenue = await queries.seasonality(history, "revenue", start, UNTIL)
    months = {r["at"]: r["index"] for r in revenue if r["by"] == "month"}
    assert max(months, key=lambda m: months[m]) == PLANTED.peak_month
    assert months[PLANTED.peak_month] > 1.4
    purchases = await queries.seasonality(history, "purchases", start, UNTIL)
    weekdays = {r["at"]: r["index"] for r in purchases if r["by"] == "weekday"}
    assert max(weekdays, key=lambda d: weekdays[d]) == 6  # ISO: Saturday


async def test_one_campaign_pays_and_one_does_not(history: asyncpg.Pool) -> None:
    costs = PLANTED.campaign_costs(CUSTOMERS)
    start = queries.years_before(UNTIL, 5)
    rows = await queries.campaigns(history, start, UNTIL, costs, kind="code")
    by_code = {r["key"]: r for r in rows}
    paying, losing = by_code[PLANTED.paying_campaign], by_code[PLANTED.losing_campaign]
    assert paying["return_on_cost"] > 1
    assert losing["return_on_cost"] < 0
    assert paying["buyer_rate"] > losing["buyer_rate"] + 0.3
    every_way = await queries.campaigns(history, start, UNTIL, costs)
    assert {r["kind"] for r in every_way} == {"code", "reference", "phone_line", "landing_url"}


async def test_an_interest_that_does_not_convert(history: asyncpg.Pool) -> None:
    start = queries.years_before(UNTIL, 5)
    rows = {r["category"]: r for r in await queries.interests(history, start, UNTIL)}
    dead = rows.pop(PLANTED.dead_interest)
    assert dead["interested"] > max(r["interested"] for r in rows.values())  # the most popular
    assert dead["conversion"] < 0.05
    assert min(r["conversion"] for r in rows.values()) > 0.3


async def test_the_survey_problem_and_its_trend(history: asyncpg.Pool) -> None:
    rows = await queries.survey_problems(history, UNTIL)
    assert rows[0]["topic"] == PLANTED.problem_topic
    assert rows[0]["trend"] > 0


async def test_the_cross_reference_suppresses_small_cells(history: asyncpg.Pool) -> None:
    rows = await queries.cross_reference(history, min_customers=10)
    shown = [r for r in rows if not r["suppressed"]]
    hidden = [r for r in rows if r["suppressed"]]
    assert shown, "some cells are large enough"
    assert hidden, "and some are not"
    assert all(r["customers"] >= 10 for r in shown)
    assert all(
        r["customers"] is None and r["average_spend"] is None and r["satisfaction"] is None
        for r in hidden
    )
    everything = await queries.cross_reference(history, min_customers=1)
    assert not any(r["suppressed"] for r in everything)


async def test_customers_new_active_lapsed_and_staff(history: asyncpg.Pool) -> None:
    months = await queries.customers(history, SINCE, UNTIL, lapse_days=180)
    assert len(months) == 12
    assert all(m["new"] > 0 and m["active"] > 0 for m in months)
    assert sum(m["lapsed"] for m in months) > 0
    staff = await queries.staff_sales(history, SINCE, UNTIL)
    assert staff[0]["staff_id"] == "ST-PARIS-01"
    assert any(s["kind"] == "agent" and s["contacts"] > 0 for s in staff)
