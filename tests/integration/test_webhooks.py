"""Acceptance: webhook subscribers get each trigger once in the end, signed, whatever
their first answers were; every attempt is in the delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from consumers.runner import RunnerConfig
from consumers.webhooks import DispatchConfig, WebhookDispatcher
from consumers.webhooks.config import Subscriber
from consumers.webhooks.signature import (
    ATTEMPT_HEADER,
    SIGNATURE_HEADER,
    TRIGGER_ID_HEADER,
    verify_signature,
)
from projections.triggers.model import Kind, Suppression, Trigger
from projections.triggers.postgres import TRIGGERS, TriggerStore
from projections.triggers.queries import delivery_log
from tests.integration.runner_support import running
from tests.integration.trigger_support import make_trigger, publish, store
from tests.waiting import eventually
from touchlog.bootstrap import projection_runner
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

SECRET = "receiver-shared-secret-0123"  # noqa: S105  # a test key
FAST = DispatchConfig(
    poll_interval_s=0.05,
    request_timeout_s=2.0,
    backoff_base_s=0.05,
    backoff_max_s=0.2,
    max_attempts=6,
    lease_margin_s=1.0,
)


@dataclass
class Receiver:
    """A subscriber's endpoint: answers 500 to the first ``failures`` tries of a trigger."""

    failures: int = 0
    hang: bool = False
    tries: Counter[str] = field(default_factory=Counter)
    accepted: list[tuple[str, int, Trigger]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        trigger_id = request.headers[TRIGGER_ID_HEADER]
        self.tries[trigger_id] += 1
        if self.hang:
            await self.released.wait()
        if self.tries[trigger_id] <= self.failures:
            return web.Response(status=500, text="try again later")
        verify_signature(SECRET, request.headers.get(SIGNATURE_HEADER), body, tolerance=60)
        trigger = Trigger.decode(body)
        assert trigger.trigger_id == trigger_id
        self.accepted.append((trigger_id, int(request.headers[ATTEMPT_HEADER]), trigger))
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        await runner.cleanup()
        sock.close()


def subscriber(name: str, url: str, **filters: object) -> Subscriber:
    return Subscriber.model_validate({"name": name, "url": url, "secret": SECRET, **filters})


@contextlib.asynccontextmanager
async def dispatching(
    pool: asyncpg.Pool, subscribers: Sequence[Subscriber], config: DispatchConfig = FAST
) -> AsyncIterator[WebhookDispatcher]:
    dispatcher = WebhookDispatcher(pool, subscribers, config)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await task


async def _statuses(pool: asyncpg.Pool) -> dict[tuple[str, str], str]:
    rows = await pool.fetch("SELECT trigger_id, subscriber, status FROM webhook_deliveries")
    return {(r["trigger_id"], r["subscriber"]): r["status"] for r in rows}


async def test_a_failing_receiver_gets_each_trigger_once_in_the_end(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    offers = [make_trigger("cross-sell-tv", f"cust-{i}") for i in range(3)]
    task = make_trigger("service-reminder", "cust-9", kind=Kind.SERVICE)
    held = make_trigger("cross-sell-tv", "cust-8", suppressed=Suppression.NO_CONSENT)
    await publish(broker.bootstrap_servers, topics["resolved"], [*offers, task, held])

    async with serving(Receiver(failures=3)) as crm, serving(Receiver()) as desk:
        subscribers = [
            subscriber("crm", crm.url, kinds=["marketing"]),
            subscriber("desk", desk.url, kinds=["service"]),
        ]
        view = TriggerStore([s.subscription() for s in subscribers])
        config = RunnerConfig(
            bootstrap_servers=broker.bootstrap_servers,
            topic=topics["resolved"],
            deadletter_topic=topics["deadletter"],
            group_id="unused",
            idempotence=False,
            partitions=range(6),
        )
        runner = projection_runner(config, pool, view, TRIGGERS)
        async with running(runner), dispatching(pool, subscribers) as dispatcher:
            statuses = await eventually(
                lambda: _statuses(pool),
                lambda s: len(s) == 4 and set(s.values()) == {"delivered"},
                timeout=30,
                what="every delivery made",
            )
            # A replay after a crash republishes the same triggers: nothing is sent again.
            await publish(broker.bootstrap_servers, topics["resolved"], [*offers, task])
            await eventually(
                lambda: pool.fetchval("SELECT sum(next_offset) FROM consumer_offsets"),
                lambda n: n == 9,
                what="the replay applied",
            )
            assert await _statuses(pool) == statuses
            assert dispatcher.delivered == 4

    assert sorted(crm.accepted) == sorted((t.trigger_id, 4, t) for t in offers)
    assert crm.tries == {t.trigger_id: 4 for t in offers}
    assert desk.accepted == [(task.trigger_id, 1, task)]
    assert held.trigger_id not in crm.tries

    for offer in offers:
        [log] = await delivery_log(pool, offer.trigger_id)
        assert (log["subscriber"], log["status"], log["attempts"]) == ("crm", "delivered", 4)
        assert [(a["attempt"], a["http_status"]) for a in log["log"]] == [
            (1, 500),
            (2, 500),
            (3, 500),
            (4, 204),
        ]
        assert log["log"][0]["error"] == "HTTP 500: try again later"
        assert log["log"][3]["error"] is None
        assert log["delivered_at"] == log["log"][3]["at"]
        assert all(a["duration_ms"] >= 0 for a in log["log"])


async def test_a_receiver_that_never_accepts_is_given_up_on(pool: asyncpg.Pool) -> None:
    offer = make_trigger("cross-sell-tv", "cust-1")
    async with serving(Receiver(failures=100)) as crm:
        subscribers = [subscriber("crm", crm.url)]
        await store(pool, [offer], TriggerStore([s.subscription() for s in subscribers]))
        with capture_logs() as logs:
            async with dispatching(pool, subscribers) as dispatcher:
                await eventually(
                    lambda: _statuses(pool),
                    lambda s: s == {(offer.trigger_id, "crm"): "failed"},
                    timeout=30,
                    what="the delivery given up",
                )
    assert dispatcher.failed == 1
    assert crm.tries[offer.trigger_id] == FAST.max_attempts
    [log] = await delivery_log(pool, offer.trigger_id)
    assert len(log["log"]) == FAST.max_attempts
    assert log["last_error"] == "HTTP 500: try again later"
    gave_up = [e for e in logs if e["event"] == "webhook_gave_up"]
    assert [(e["trigger_id"], e["subscriber"], e["attempt"]) for e in gave_up] == [
        (offer.trigger_id, "crm", FAST.max_attempts)
    ]


async def test_timeouts_and_refused_connections_are_retried(pool: asyncpg.Pool) -> None:
    slow_offer, lost_offer = make_trigger("vip", "cust-1"), make_trigger("vip", "cust-2")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}/hooks"  # bound, not listening
        config = DispatchConfig(
            poll_interval_s=0.05, request_timeout_s=0.3, backoff_base_s=0.05, max_attempts=2
        )
        async with serving(Receiver(hang=True)) as slow:
            subscribers = [
                subscriber("slow", slow.url, rules=["vip"]),
                subscriber("nowhere", nowhere, rules=["vip"]),
            ]
            view = TriggerStore([s.subscription() for s in subscribers])
            await store(pool, [slow_offer, lost_offer], view)
            async with dispatching(pool, subscribers, config):
                await eventually(
                    lambda: _statuses(pool),
                    lambda s: len(s) == 4 and set(s.values()) == {"failed"},
                    timeout=30,
                    what="every delivery given up",
                )
    for trigger in (slow_offer, lost_offer):
        logs = {d["subscriber"]: d["log"] for d in await delivery_log(pool, trigger.trigger_id)}
        assert [a["error"] for a in logs["slow"]] == ["timed out", "timed out"]
        assert all(a["duration_ms"] >= 300 for a in logs["slow"])
        assert all(a["http_status"] is None for a in logs["nowhere"])
        assert all("ClientConnectorError" in a["error"] for a in logs["nowhere"])


async def test_a_new_delivery_wakes_an_idle_dispatcher(pool: asyncpg.Pool) -> None:
    """LISTEN/NOTIFY: with a 60 s poll interval, a delivery still goes out at once."""
    offer = make_trigger("cross-sell-tv", "cust-1")
    async with serving(Receiver()) as crm:
        subscribers = [subscriber("crm", crm.url)]
        view = TriggerStore([s.subscription() for s in subscribers])
        await store(pool, [], view)  # tables, nothing due
        idle = DispatchConfig(poll_interval_s=60.0)
        async with dispatching(pool, subscribers, idle):
            await eventually(
                lambda: pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'ClientRead' "
                    "AND query LIKE 'LISTEN%' AND datname = current_database()"
                ),
                lambda n: n == 1,
                timeout=10,
                what="the dispatcher listening",
            )
            await store(pool, [offer], view)
            await eventually(
                lambda: _statuses(pool),
                lambda s: s == {(offer.trigger_id, "crm"): "delivered"},
                timeout=10,
                what="the delivery, long before the next poll",
            )
    assert crm.accepted == [(offer.trigger_id, 1, offer)]


async def test_the_dispatcher_outlives_its_database_connections_being_terminated(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """An operator's terminate (or a failover) drops the dispatcher's connections three
    times while it works through retries: it carries on, and every trigger is delivered."""
    offers = [make_trigger("cross-sell-tv", f"cust-{i}") for i in range(30)]
    application = "touchlog-webhooks-under-test"
    dispatcher_pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"application_name": application}
    )
    terminated = []
    try:
        async with serving(Receiver(failures=3)) as crm:
            subscribers = [subscriber("crm", crm.url)]
            await store(pool, offers, TriggerStore([s.subscription() for s in subscribers]))
            with capture_logs() as logs:
                async with dispatching(dispatcher_pool, subscribers):
                    for tries in (10, 40, 70):
                        await eventually(
                            lambda: asyncio.sleep(0, sum(crm.tries.values())),
                            lambda n, t=tries: n >= t,
                            timeout=30,
                            interval=0.005,
                            what=f"{tries} tries",
                        )
                        terminated.append(
                            await pool.fetchval(
                                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = $1",
                                application,
                            )
                        )
                    await eventually(
                        lambda: _statuses(pool),
                        lambda s: len(s) == 30 and set(s.values()) == {"delivered"},
                        timeout=60,
                        what="every delivery made",
                    )
    finally:
        await dispatcher_pool.close()
    assert all(n > 0 for n in terminated), terminated
    assert any(e["event"] == "webhooks_queue_unavailable" for e in logs)
    assert {trigger_id for trigger_id, _, _ in crm.accepted} == {o.trigger_id for o in offers}
