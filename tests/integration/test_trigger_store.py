"""The trigger store: triggers from the topics become rows once, and deliveries once."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers.runner import ProjectionRunner, RunnerConfig
from projections import versions
from projections.triggers.lifecycle import Action, Status
from projections.triggers.model import Audience, Kind, Suppression
from projections.triggers.postgres import TRIGGERS, TriggerStore
from projections.triggers.queries import (
    Cursor,
    TriggerFilter,
    get_trigger,
    list_triggers,
    lock_trigger,
    record_action,
)
from projections.triggers.subscriptions import Subscription
from tests.integration.runner_support import running
from tests.integration.trigger_support import BASE, make_trigger, publish, store
from tests.waiting import eventually
from touchlog.bootstrap import projection_runner
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

SUBSCRIPTIONS = (
    Subscription("everything"),
    Subscription("marketing-only", kinds=frozenset({Kind.MARKETING})),
    Subscription("vip-desk", rules=frozenset({"vip"})),
)


async def _deliveries(pool: asyncpg.Pool) -> set[tuple[str, str]]:
    rows = await pool.fetch("SELECT trigger_id, subscriber FROM webhook_deliveries")
    return {(r["trigger_id"], r["subscriber"]) for r in rows}


async def _count(pool: asyncpg.Pool, table: str) -> int:
    n: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return n


async def test_triggers_from_both_topics_are_stored_once_and_enqueued_once(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    offer = make_trigger("cross-sell-tv", "cust-1")
    task = make_trigger("service-reminder", "cust-2", kind=Kind.SERVICE)
    vip = make_trigger("vip", "cust-3", kind=Kind.SERVICE, audience=Audience.MANAGER)
    held = make_trigger("cross-sell-tv", "cust-4", suppressed=Suppression.NO_CONSENT)
    emitted, suppressed = topics["resolved"], topics["touchpoints"]
    # A replay after a crash republishes the same trigger ids.
    await publish(broker.bootstrap_servers, emitted, [offer, task, vip, offer, vip])
    await publish(broker.bootstrap_servers, suppressed, [held, held])

    def runner(topic: str) -> ProjectionRunner:
        config = RunnerConfig(
            bootstrap_servers=broker.bootstrap_servers,
            topic=topic,
            deadletter_topic=topics["deadletter"],
            group_id="unused",
            idempotence=False,
            partitions=range(6),
        )
        return projection_runner(config, pool, TriggerStore(SUBSCRIPTIONS), TRIGGERS)

    async with running(runner(emitted)), running(runner(suppressed)):
        await eventually(lambda: _count(pool, "triggers_v1"), lambda n: n >= 4, what="4 rows")
        await eventually(
            lambda: pool.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"),
            lambda n: n == 7,
            what="every record applied",
        )

    assert await _count(pool, "triggers_v1") == 4
    statuses = dict(await pool.fetch("SELECT trigger_id, status FROM triggers_v1"))
    assert statuses == {
        offer.trigger_id: "open",
        task.trigger_id: "open",
        vip.trigger_id: "open",
        held.trigger_id: "suppressed",
    }
    stored = await get_trigger(pool, held.trigger_id)
    assert stored["suppressed"] == "no_consent"
    assert stored["suppressed_reason"] == "suppressed: no_consent"
    assert stored["evidence"] == list(held.evidence)
    assert await _deliveries(pool) == {
        (offer.trigger_id, "everything"),
        (offer.trigger_id, "marketing-only"),
        (task.trigger_id, "everything"),
        (vip.trigger_id, "everything"),
        (vip.trigger_id, "vip-desk"),
    }
    assert await _count(pool, "dead_letters") == 0


async def test_a_trigger_not_a_trigger_is_dead_lettered_and_the_rest_stored(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool
) -> None:
    good = make_trigger("vip", "cust-9", kind=Kind.SERVICE)
    await publish(broker.bootstrap_servers, topics["resolved"], [good])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topics["resolved"], b'{"trigger_id": "x"}', key=b"cust-9")
    finally:
        await producer.stop()
    config = RunnerConfig(
        bootstrap_servers=broker.bootstrap_servers,
        topic=topics["resolved"],
        deadletter_topic=topics["deadletter"],
        group_id="unused",
        idempotence=False,
        partitions=range(6),
    )
    async with running(projection_runner(config, pool, TriggerStore(), TRIGGERS)):
        await eventually(lambda: _count(pool, "dead_letters"), lambda n: n == 1, what="a letter")
        await eventually(lambda: _count(pool, "triggers_v1"), lambda n: n == 1, what="the row")
    reason = await pool.fetchval("SELECT reason FROM dead_letters")
    assert "rule: Field required" in reason


async def test_writing_the_same_triggers_again_changes_nothing(pool: asyncpg.Pool) -> None:
    view = TriggerStore(SUBSCRIPTIONS)
    triggers = [make_trigger("cross-sell-tv", f"cust-{i}") for i in range(5)]
    await store(pool, triggers, view)
    await pool.execute("UPDATE webhook_deliveries SET status = 'delivered'")
    await store(pool, [*triggers, *triggers], view)
    assert await _count(pool, "triggers_v1") == 5
    assert await _count(pool, "webhook_deliveries") == 10
    pending = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
    assert await pool.fetchval(pending) == 0


async def test_a_suppressed_trigger_is_never_enqueued(pool: asyncpg.Pool) -> None:
    held = make_trigger("vip", "cust-1", kind=Kind.SERVICE, suppressed=Suppression.OPEN_COMPLAINT)
    await store(pool, [held], TriggerStore([Subscription("everything")]))
    assert (await get_trigger(pool, held.trigger_id))["status"] == "suppressed"
    assert await _deliveries(pool) == set()


async def test_actions_survive_a_rebuild_of_the_triggers_table(pool: asyncpg.Pool) -> None:
    view = TriggerStore([Subscription("everything")])
    worked, closed, untouched = (make_trigger("cross-sell-tv", f"cust-{i}") for i in range(3))
    await store(pool, [worked, closed, untouched], view)
    async with pool.acquire() as conn, conn.transaction():
        for trigger, actions in ((worked, [Action.ACKNOWLEDGE]), (closed, list(Action))):
            for action in actions:
                row = await lock_trigger(conn, trigger.trigger_id)
                await record_action(conn, row, action, "Ann", "agent", "called")

    live = versions.namespace("triggers", 1)
    await pool.execute(f'TRUNCATE "{live}".triggers_v1')  # as if rebuilt from the topics
    await store(pool, [worked, closed, untouched], view)

    statuses = dict(await pool.fetch("SELECT trigger_id, status FROM triggers_v1"))
    assert statuses == {
        worked.trigger_id: Status.ACKNOWLEDGED,
        closed.trigger_id: Status.CLOSED,
        untouched.trigger_id: Status.OPEN,
    }
    assert await _count(pool, "webhook_deliveries") == 3  # not enqueued a second time


async def test_filters_and_pages(pool: asyncpg.Pool) -> None:
    triggers = [
        make_trigger(
            "cross-sell-tv" if i % 2 else "service-reminder",
            f"cust-{i % 3}",
            kind=Kind.MARKETING if i % 2 else Kind.SERVICE,
            created_at=BASE + timedelta(hours=i),
        )
        for i in range(12)
    ]
    await store(pool, triggers, TriggerStore())
    newest_first = sorted(triggers, key=lambda t: t.created_at, reverse=True)

    async def ids(where: TriggerFilter, **kw: object) -> list[str]:
        page = await list_triggers(pool, where, **kw)  # type: ignore[arg-type]
        return [t["trigger_id"] for t in page.triggers]

    assert await ids(TriggerFilter()) == [t.trigger_id for t in newest_first]
    assert await ids(TriggerFilter(customer_id="cust-1")) == [
        t.trigger_id for t in newest_first if t.customer_id == "cust-1"
    ]
    assert await ids(TriggerFilter(rules={"cross-sell-tv"}, kinds={Kind.MARKETING})) == [
        t.trigger_id for t in newest_first if t.rule == "cross-sell-tv"
    ]
    assert await ids(TriggerFilter(kinds={Kind.SERVICE}, rules={"cross-sell-tv"})) == []
    assert await ids(TriggerFilter(statuses={Status.CLOSED})) == []

    seen: list[str] = []
    after: Cursor | None = None
    while True:
        page = await list_triggers(pool, TriggerFilter(), limit=5, after=after)
        seen += [t["trigger_id"] for t in page.triggers]
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor)
    assert seen == [t.trigger_id for t in newest_first]
