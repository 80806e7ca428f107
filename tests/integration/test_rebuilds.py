"""Blue/green rebuilds, as users run them: the stages in consumer groups, events arriving,
the API read throughout.

- While events are published and the live stages consume them, the timeline and the
  profile are rebuilt from offset 0 and switched; a client polling the API every 50 ms
  sees no error, and no timeline shorter than one it saw before (nothing empty, nothing
  partial). The live stages then follow the new version, and it equals a version
  rebuilt from scratch afterwards.
- A rebuild by one process killed (SIGKILL) halfway resumes from its offsets and ends
  equal to the live version; a second rebuild cannot run while one is running; the
  retired version drops. (By several processes: test_rebuild_workers.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.auth import Caller
from api.roles import Role
from consumers.status import Stage, stage_status
from consumers.versioned import VersionBusy, VersionedCheckpoints
from events import Touchpoint
from producers import Publisher
from producers.demo import demo_events
from projections import versions
from tests.factories import BASE_TIME, KINDS, make_event, random_events
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog import bootstrap, rebuilds
from touchlog.embedded import EmbeddedBroker
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

TOKENS = {"t-manager": Caller("Max", Role.MANAGER)}

CONTENT = {
    "timeline": "SELECT subject_key, source_system, message_id, occurred_at, type, channel, "
    "business_unit, summary, payload, campaign_code FROM {ns}.timeline_v1",
    "profile": "SELECT customer_id, kind, key, occurred_at, source_system, message_id, "
    "event_type, value FROM {ns}.profile_facts_v1",
    "profile terms": "SELECT kind, term, customer_id FROM {ns}.profile_terms_v1",
}


async def contents(pool: asyncpg.Pool, view: str, version: int) -> dict[str, list[str]]:
    """Every row of the version's tables, as sorted text (``recorded_at`` left out)."""
    ns = f'"{versions.namespace(view, version)}"'
    found = {}
    for name, query in CONTENT.items():
        if name.startswith(view):
            rows = await pool.fetch(query.format(ns=ns))
            found[name] = sorted(repr(tuple(r)) for r in rows)
    return found


def at_least(n: int) -> Callable[[int], bool]:
    return lambda value: value >= n


async def applied(pool: asyncpg.Pool, consumer: str, topic: str) -> int:
    value: int = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
        "WHERE consumer = $1 AND topic = $2",
        consumer,
        topic,
    )
    return value


@contextlib.asynccontextmanager
async def operator_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer t-manager"},
            follow_redirects=True,  # a merged customer's old id redirects to the survivor
        ) as http,
    ):
        yield http


class Poller:
    """Reads customers' timelines and profiles every ``period`` (50 ms, as the acceptance's
    client does); remembers what went wrong."""

    def __init__(self, http: httpx.AsyncClient, customers: list[str], period: float = 0.05) -> None:
        self.http, self.customers, self.period = http, customers, period
        self.longest = dict.fromkeys(customers, 0)
        self.newest = dict.fromkeys(customers, "")
        self.problems: list[str] = []
        self.reads = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for customer in self.customers:
                await self._read(customer)
            await asyncio.sleep(self.period)  # the client's polling period, not synchronisation

    async def _read(self, customer: str) -> None:
        timeline = await self.http.get(f"/customers/{customer}/timeline", params={"limit": 200})
        profile = await self.http.get(f"/customers/{customer}/profile")
        self.reads += 1
        for response in (timeline, profile):
            if response.status_code != 200:
                self.problems.append(f"{response.url}: {response.status_code} {response.text}")
                return
        items = timeline.json()["items"]
        if len(items) < self.longest[customer]:
            self.problems.append(f"{customer}: {len(items)} events after {self.longest[customer]}")
        self.longest[customer] = max(len(items), self.longest[customer])
        newest = items[0]["message_id"] if items else ""
        if newest < self.newest[customer]:  # a page of 200 is full: its top must not go back
            self.problems.append(f"{customer}: newest {newest} after {self.newest[customer]}")
        self.newest[customer] = max(newest, self.newest[customer])
        if not profile.json().get("essential"):
            self.problems.append(f"{customer}: empty profile {profile.text}")


STEADY = ("steady-cust-1", "steady-cust-2", "steady-cust-3")
"""Customers who get new events while the views are rebuilt."""


def steady_start() -> list[Touchpoint]:
    return [
        make_event(kind, customer=customer, message_id=f"start-{customer}-{kind}", at=BASE_TIME)
        for customer in STEADY
        for kind in KINDS
    ]


async def publish_steadily(
    bootstrap_servers: str, topic: str, stop: asyncio.Event, published: list[int]
) -> None:
    """New events of the ``STEADY`` customers, some 600 a second, until ``stop``. (Not the
    demo's again: its stories merge and split customers, and a split rightly shortens a
    timeline the poller would count as partial.)"""
    rng = random.Random(5)
    events = [
        make_event(
            rng.choice(KINDS),
            customer=rng.choice(STEADY),
            message_id=f"steady-{i:06d}",
            at=BASE_TIME + timedelta(days=1, seconds=i),  # newest first: the latest on top
        )
        for i in range(60_000)
    ]
    async with Publisher(bootstrap_servers, topic=topic, idempotence=False) as publisher:
        for start in range(0, len(events), 60):
            if stop.is_set():
                return
            await publisher.publish_many(events[start : start + 60])
            published[0] += 60
            await asyncio.sleep(0.1)


async def test_rebuild_and_switch_while_events_arrive_and_the_api_is_read(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    api: httpx.AsyncClient,
) -> None:
    settings = pipeline_settings(topics)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        first = len(await publisher.publish_many(demo_events(400, seed=7), in_order=True))
        first += len(await publisher.publish_many(steady_start()))
    async with pipeline(settings, ends, pool, group=True):
        await eventually(lambda: applied(pool, "timeline_v1", topics["resolved"]), at_least(first))
        busiest = await pool.fetchval(
            "SELECT subject_key FROM timeline_v1 WHERE subject_key LIKE 'C-%' "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        customers = [*STEADY, busiest]
        stop, published = asyncio.Event(), [0]
        poller = Poller(api, customers)
        # And one that reads without pause: a switch made before the new version had
        # caught up would show it an older newest event, even for a moment.
        eager = Poller(api, [STEADY[0]], period=0)
        background = [
            asyncio.create_task(poller.run(stop)),
            asyncio.create_task(eager.run(stop)),
            asyncio.create_task(
                publish_steadily(broker.bootstrap_servers, topics["touchpoints"], stop, published)
            ),
        ]
        try:
            # As `touchlog projections rebuild` would: a process of its own, a pool of its own.
            async with operator_pool(database_url) as own:
                timeline = await rebuilds.rebuild(settings, ends, own, "timeline", switch=True)
                profile = await rebuilds.rebuild(settings, ends, own, "profile", switch=True)
            during = published[0]
        finally:
            stop.set()
            await asyncio.gather(*background)
        assert (timeline.version, timeline.switched_from) == (2, 1)
        assert (profile.version, profile.switched_from) == (2, 1)
        assert during > 0, "events were published while the views were rebuilt"
        assert poller.reads > 10
        assert poller.problems == []
        assert eager.problems == []
        # The live stages follow version 2: every event published reaches it.
        total = first + published[0]
        await eventually(
            lambda: applied(pool, "timeline_v1@v2", topics["resolved"]), at_least(total)
        )
        await eventually(
            lambda: applied(pool, "profile_facts_v1@v2", topics["resolved"]), at_least(total)
        )
    assert await versions.live_version(pool, "timeline") == 2
    scratch = await rebuilds.rebuild(settings, ends, pool, "timeline")
    assert scratch.version == 3
    assert not scratch.resumed
    assert await contents(pool, "timeline", 2) == await contents(pool, "timeline", 3)
    assert await pool.fetchval("SELECT count(*) FROM timeline_v1") > first
    scratch = await rebuilds.rebuild(settings, ends, pool, "profile")
    assert await contents(pool, "profile", 2) == await contents(pool, "profile", 3)


async def live_timeline(
    settings: Settings,
    ends: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    tmp_path: Path,
    count: int,
    *,
    seed: int,
) -> dict[str, str]:
    """``count`` events published and applied by the live pipeline; the environment a
    ``touchlog`` command run on the same broker, database and topics needs."""
    async with Publisher(
        ends.bootstrap_servers, topic=settings.topic_touchpoints, idempotence=False
    ) as publisher:
        await publisher.publish_many(random_events(count, 500, seed=seed))
    async with pipeline(settings, ends, pool):
        await eventually(
            lambda: applied(pool, "timeline_v1", settings.topic_resolved), at_least(count)
        )
    return os.environ | {
        "DATABASE_URL": ends.database_url,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": ends.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "TOUCHLOG_TOPIC_RESOLVED": settings.topic_resolved,
        "TOUCHLOG_BATCH_MAX_RECORDS": str(settings.batch_max_records),
        "TOUCHLOG_DATA_DIR": str(tmp_path),
    }


def rebuild_command(settings: Settings, ends: bootstrap.Endpoints) -> list[str]:
    return [
        *(sys.executable, "-m", "touchlog.cli", "projections", "rebuild", "timeline"),
        *("--workers", "1"),
    ]


async def test_a_rebuild_killed_halfway_resumes_to_the_same_result(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(topics, batch_max_records=500)
    ends = endpoints(broker.bootstrap_servers, database_url)
    count = 20_000
    env = await live_timeline(settings, ends, pool, tmp_path, count, seed=3)
    child = await asyncio.create_subprocess_exec(
        *rebuild_command(settings, ends), env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        halfway = await eventually(
            lambda: applied(pool, "timeline_v1@v2", topics["resolved"]),
            at_least(count // 4),
        )
        # Meanwhile no second runner may write version 2.
        busy = VersionedCheckpoints(pool, "timeline", database_url, version=2)
        with pytest.raises(VersionBusy):
            await busy.prepare(bootstrap.VERSIONED["timeline"].schema)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert halfway < count, "killed halfway, not at the end"
    resumed = await rebuilds.rebuild(settings, ends, pool, "timeline")
    assert resumed.version == 2
    assert resumed.resumed
    assert resumed.events < count, "resumed from its offsets, not from offset 0"
    assert await contents(pool, "timeline", 2) == await contents(pool, "timeline", 1)
    switched = await rebuilds.switch(settings, ends, pool, "timeline")
    assert switched.switched_from == 1
    # `touchlog status` reads the live version's offsets, under its name.
    live = Stage("timeline", "timeline_v1", topics["resolved"], versioned="timeline")
    found = await stage_status(pool, broker.bootstrap_servers, [live])
    assert {s.view for s in found} == {"timeline_v1@v2"}
    assert sum(s.stored_offset or 0 for s in found) == count
    assert all(s.lag_events == 0 for s in found)
    assert {v.version: v.state for v in await versions.versions(pool, "timeline")} == {
        1: "retired",
        2: "live",
    }
    async with pool.acquire() as conn:
        await versions.drop_version(conn, "timeline", 1, "timeline_v1")
    assert await pool.fetchval("SELECT to_regnamespace('touchlog_timeline_v1')") is None
    assert await pool.fetchval("SELECT count(*) FROM timeline_v1") == count
