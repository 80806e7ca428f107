"""The managers' analytics page in a real browser: every chart drawn, over five years of
generated history, and the screenshot (``TOUCHLOG_SCREENSHOTS_DIR=docs/screens`` keeps it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Page, ViewportSize, async_playwright, expect

from api import create_app
from api.web.session import COOKIE
from producers.demo.history import PLANTED, history_events
from projections import versions
from projections.metrics.postgres import MetricsView
from projections.metrics.readers import AnalyticsPolicy
from tests.browser.conftest import TOKENS, _database
from tests.waiting import eventually
from touchlog.bootstrap import create_tables
from touchlog.embedded import free_port

CUSTOMERS = 150
VIEWPORT = ViewportSize(width=1280, height=800)


async def _load(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await create_tables(pool)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {versions.search_path('metrics', 1)}")
            await MetricsView().apply(conn, list(history_events(CUSTOMERS, years=5)))  # to today
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def analytics_url(server_url: str) -> AsyncIterator[str]:
    async with _database(server_url) as database_url:
        await _load(database_url)
        app = create_app(database_url, tokens=TOKENS)
        app.state.analytics_policy = AnalyticsPolicy(
            campaign_costs=PLANTED.campaign_costs(CUSTOMERS)
        )
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await eventually(lambda: asyncio.sleep(0, server.started), bool, what="the API serving")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


@contextlib.asynccontextmanager
async def manager_page(url: str, chromium: Path) -> AsyncIterator[Page]:
    """A page in headless Chromium, signed in as a manager."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium))
        try:
            context = await browser.new_context(base_url=url, viewport=VIEWPORT)
            await context.add_cookies([{"name": COOKIE, "value": "t-manager", "url": url}])
            yield await context.new_page()
        finally:
            await browser.close()


async def test_a_manager_sees_every_chart(
    analytics_url: str, chromium: Path, screenshots: Path
) -> None:
    async with manager_page(analytics_url, chromium) as page:
        await page.goto("/analytics/page")
        charts = page.locator("figure svg")
        assert await charts.count() == 8
        for n in range(8):
            box = await charts.nth(n).bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 150
        await page.screenshot(path=screenshots / "analytics.png", full_page=True)
        titles = await page.locator("svg text.title").all_text_contents()
        assert "Revenue by month (1.0 = average)" in titles
        assert await page.locator("svg text", has_text="SPRING-MAILER").count() > 0
        assert await page.get_by_role("cell", name="—").count() > 0  # small cells hidden


async def test_the_manager_page_shows_the_charts(
    analytics_url: str, chromium: Path, screenshots: Path
) -> None:
    async with manager_page(analytics_url, chromium) as page:
        await page.goto("/manager")
        charts = page.locator("#metrics-h ~ figure img")
        assert await charts.count() == 2
        for n in range(2):
            chart = charts.nth(n)
            await chart.scroll_into_view_if_needed()  # lazy: loaded once in view
            await expect(chart).to_have_js_property("complete", True)
            assert await chart.evaluate("img => img.naturalWidth") > 300, "drawn, not broken"
        await page.locator("#metrics-h").scroll_into_view_if_needed()
        await page.screenshot(path=screenshots / "manager-charts.png")
