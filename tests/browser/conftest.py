"""The rep's screen in a real browser: Debian's chromium driven by Playwright, against the
API served by uvicorn in the test's event loop, over the real pipeline (embedded broker,
PostgreSQL, identity + timeline + profile stages) fed through the Python SDK.

One world per module (broker topics, a database, the pipeline, the server, the browser):
starting them is most of the cost, and the tests read different customers of it.
Chromium missing is a failure, never a skip: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from api import create_app
from api.auth import Caller
from api.roles import Role
from producers.publisher import Publisher
from projections.identity import IdentityRules
from projections.identity.decisions import Publish
from projections.timeline.postgres import count_rows
from projections.triggers.postgres import TriggerStore
from tests.browser.story import HISTORY_EVENTS, all_events, triggers
from tests.integration.conftest import _with_database, broker, server_url
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker, free_port
from touchlog.kafka_admin import ensure_topics

__all__ = ["broker", "server_url"]

CHROMIUM = Path("/usr/bin/chromium")
TOKENS = {
    "t-agent": Caller("Ann", Role.AGENT),
    "t-manager": Caller("Max", Role.MANAGER),
}
VIEWPORT = {"width": 1280, "height": 800}
TIME_ZONE = "Europe/Paris"
SCREENSHOTS = os.environ.get("TOUCHLOG_SCREENSHOTS_DIR")
"""Set to ``docs/screens`` to refresh the README's screenshots; default: the test's tmp dir."""


@dataclass
class World:
    base_url: str
    bootstrap: str
    topics: dict[str, str]
    pool: asyncpg.Pool
    browser: Browser

    async def publish(self, *events: dict[str, Any]) -> None:
        """Through the SDK, as a channel system does."""
        async with Publisher(
            self.bootstrap, topic=self.topics["touchpoints"], idempotence=False
        ) as publisher:
            await publisher.publish_many(list(events))

    async def signed_in(self, token: str) -> BrowserContext:
        context = await self.browser.new_context(
            base_url=self.base_url, viewport=VIEWPORT, timezone_id=TIME_ZONE, locale="en-GB"
        )
        page = await context.new_page()
        await page.goto("/signin")
        await page.get_by_label("Your API token").fill(token)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{self.base_url}/")
        await page.close()
        return context


@contextlib.asynccontextmanager
async def _database(server: str) -> AsyncIterator[str]:
    name = f"touchlog_browser_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(server, name)
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def _serving(
    database_url: str, rules: IdentityRules, publish: Publish | None = None
) -> AsyncIterator[str]:
    port = free_port()
    app = create_app(database_url, rules, TOKENS)
    app.state.publish_decision = publish  # what the composition root would give it
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    config.timeout_graceful_shutdown = 2
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(
        lambda: asyncio.sleep(0, server.started), bool, timeout=20, what="the API serving"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    return CHROMIUM


@pytest.fixture(scope="module")
async def world(broker: EmbeddedBroker, server_url: str, chromium: Path) -> AsyncIterator[World]:
    unique = uuid.uuid4().hex[:10]
    topics = {name: f"test.{unique}.{name}" for name in ("touchpoints", "resolved", "deadletter")}
    await ensure_topics(broker.bootstrap_servers, topics.values(), partitions=6)
    rules = IdentityRules()
    async with _database(server_url) as database_url:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        settings = pipeline_settings(topics)
        ends = endpoints(broker.bootstrap_servers, database_url)
        try:
            decisions = Publisher(
                broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
            )
            async with (
                pipeline(settings, ends, pool, rules=rules),
                decisions,
                _serving(database_url, rules, decisions.publish) as base_url,
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(executable_path=str(chromium))
                world = World(base_url, broker.bootstrap_servers, topics, pool, browser)
                await world.publish(*all_events())
                async with pool.acquire() as conn, conn.transaction():
                    await TriggerStore().apply(conn, list(triggers()))
                await eventually(
                    functools.partial(count_rows, pool),
                    lambda n: n >= len(all_events()),
                    timeout=120,
                    what=f"{len(all_events())} timeline rows ({HISTORY_EVENTS} of one customer)",
                )
                try:
                    yield world
                finally:
                    await browser.close()
        finally:
            await pool.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Path]:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def agent(world: World) -> AsyncIterator[Page]:
    context = await world.signed_in("t-agent")
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def manager(world: World) -> AsyncIterator[Page]:
    context = await world.signed_in("t-manager")
    page = await context.new_page()
    yield page
    await context.close()
