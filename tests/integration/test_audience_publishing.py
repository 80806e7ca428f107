"""Acceptance 1, with Kafka and PostgreSQL: each audience entry and exit is published once,
with its deterministic id, even when the stage is SIGKILLed mid-stream.

The audiences stage runs as ``touchlog runner --stage audiences`` in its own process, over
a resolved topic this test writes. It is killed twice while it applies batches and
publishes its outbox, then runs to the end. The topic must then hold every change the
pure fold computes from the same log — each id, with exactly that record — and nothing
else; a record sent again after a kill is the same record (same id, same bytes), and
``audience_published`` holds every id once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers.publishing import publish_all
from consumers.triggers.tail import published_ids
from events import Touchpoint
from events.resolved import Resolved, encode_resolved
from projections import versions
from projections.audiences import parse_audiences
from projections.audiences.membership import Transition
from projections.audiences.outbox import AudiencePublisher
from projections.audiences.postgres import OUTBOX, AudienceView, fold_batch
from tests.factories import BASE_TIME
from tests.integration.kafka_support import read_topic
from tests.profile_support import touch
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration

CUSTOMERS = 400
AUDIENCES = {
    "audiences": [
        {"name": "emailable", "channels": ["email"]},
        {
            "name": "gardeners",
            "channels": ["email", "sms"],
            "when": {"categories_bought": {"any_of": ["garden"]}},
        },
        {
            "name": "calm-spenders",
            "channels": ["email"],
            "when": {"complaint": "none", "lifetime_spend": {"at_least": 100}},
        },
    ]
}


def _history(customer: str, rng: random.Random) -> list[Touchpoint]:
    events = []
    for i in range(rng.randint(4, 12)):
        at = BASE_TIME + timedelta(days=i, hours=rng.randint(0, 20))
        kind = rng.choice(["consent", "consent", "purchase", "purchase", "opened", "resolved"])
        if kind == "consent":
            event = touch(
                "consent.changed",
                {
                    "purpose": "marketing",
                    "channel": rng.choice(["email", "sms", None]),
                    "status": rng.choice(["granted", "granted", "revoked"]),
                    "legal_basis": "consent",
                    "captured_via": "web preference centre",
                },
                at=at,
                message_id=f"{customer}-{i}",
                customer=customer,
            )
        elif kind == "purchase":
            category = rng.choice(["garden", "kitchen"])
            line = {"sku": "SKU-1", "category": category, "quantity": 1, "unit_price": "80.00"}
            payload = {
                "order_id": f"O-{i}",
                "lines": [line],
                "currency": "EUR",
                "total": "80.00",
                "payment_method": "card",
            }
            event = touch(
                "purchase.completed",
                payload,
                at=at,
                message_id=f"{customer}-{i}",
                customer=customer,
            )
        else:
            payload = (
                {"case_id": "C-1", "category": "delivery", "severity": "low", "description": "late"}
                if kind == "opened"
                else {"case_id": "C-1", "resolution": "refund", "resolved_by": "agent-7"}
            )
            event = touch(
                f"complaint.{kind}", payload, at=at, message_id=f"{customer}-{i}", customer=customer
            )
        events.append(event)
    return events


def _expected(rules: Any, histories: dict[str, list[Touchpoint]]) -> dict[str, bytes]:
    """Every change the clean fold makes: id → record."""
    view = AudienceView(rules)
    changes: list[Transition] = []
    for customer, events in histories.items():
        happened = view.changes([Resolved(customer_id=customer, event=e) for e in events])
        changes += fold_batch(rules, happened, {}, {}).transitions
    return {t.id: t.record() for t in changes}


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "touchlog.cli",
                "runner",
                "--stage",
                "audiences",
                "--partitions",
                "0,1,2,3,4,5",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,
        )


async def _progress(pool: asyncpg.Pool, topic: str) -> tuple[int, int, int]:
    """(events applied, changes published, changes pending)."""
    try:
        applied = await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
            "WHERE consumer = 'audience_members_v1' AND topic = $1",
            topic,
        )
        published = await pool.fetchval("SELECT count(*) FROM audience_published")
        pending = await pool.fetchval("SELECT count(*) FROM audience_outbox_v1 WHERE NOT published")
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        return 0, 0, 0
    return int(applied), int(published), int(pending)


async def test_entries_and_exits_are_published_once_across_sigkills(
    broker: EmbeddedBroker,
    unique: str,
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> None:
    rng = random.Random(20)
    histories = {f"cust-{n:04d}": _history(f"cust-{n:04d}", rng) for n in range(CUSTOMERS)}
    total = sum(len(h) for h in histories.values())
    rules = parse_audiences(AUDIENCES)
    expected = _expected(rules, histories)
    assert len(expected) > 500  # plenty of entries and exits to lose or double

    resolved, changes = f"test.{unique}.resolved", f"test.{unique}.audiences"
    await ensure_topics(broker.bootstrap_servers, [resolved, changes], partitions=6)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        records = [
            (customer.encode(), encode_resolved(customer, event))
            for customer, events in histories.items()
            for event in events
        ]
        await publish_all(producer, resolved, records)
    finally:
        await producer.stop()

    audiences_file = tmp_path / "audiences.json"
    audiences_file.write_text(json.dumps(AUDIENCES))  # JSON is YAML
    database_url = await new_database()
    env = {
        **os.environ,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "DATABASE_URL": database_url,
        "TOUCHLOG_TOPIC_RESOLVED": resolved,
        "TOUCHLOG_TOPIC_AUDIENCES": changes,
        "TOUCHLOG_TOPIC_DEADLETTER": f"test.{unique}.deadletter",
        "TOUCHLOG_AUDIENCES_FILE": str(audiences_file),
        "TOUCHLOG_BATCH_MAX_RECORDS": "40",  # many commit points to land a kill between
        "TOUCHLOG_DATA_DIR": str(tmp_path),
        "TOUCHLOG_LOG_LEVEL": "warning",
    }
    log = tmp_path / "stage.log"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        for share in (0.2, 0.6):
            process = _start(env, log)
            try:
                await eventually(
                    lambda: _progress(pool, resolved),
                    lambda p, s=share: p[1] >= s * len(expected),
                    timeout=60,
                    interval=0.005,
                    what=f"{share:.0%} of the changes published",
                )
                await asyncio.sleep(rng.random() * 0.05)  # land anywhere inside a batch
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            _, published, _ = await _progress(pool, resolved)
            assert published < len(expected), "the kill should land mid-stream"

        process = _start(env, log)
        try:
            await eventually(
                lambda: _progress(pool, resolved),
                lambda p: p == (total, len(expected), 0),
                timeout=60,
                what="every event applied, every change published",
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert process.returncode == 0, log.read_text()[-3000:]
        members = {
            (r["audience"], r["customer_id"])
            for r in await pool.fetch(
                "SELECT audience, customer_id FROM audience_members_v1 WHERE member"
            )
        }
    finally:
        await pool.close()

    on_topic = await read_topic(broker.bootstrap_servers, changes)
    by_id: dict[str, set[bytes]] = {}
    for record in on_topic:
        change = json.loads(record.value)
        assert record.key == change["customer_id"].encode()
        by_id.setdefault(change["id"], set()).add(record.value)
    assert set(by_id) == set(expected)  # none lost, none made up
    assert all(values == {expected[i]} for i, values in by_id.items())
    repeated = Counter(json.loads(r.value)["id"] for r in on_topic) - Counter(set(by_id))
    assert not repeated, "each change reaches the topic once, kills or not"
    last = {}
    for change in (json.loads(v) for v in expected.values()):
        last[change["audience"], change["customer_id"]] = change["type"]
    assert members == {k for k, kind in last.items() if kind == "audience.entered"}


class Crash(Exception):
    """The publisher's process dies right after the broker acknowledged a send."""


async def test_a_publisher_killed_between_send_and_commit_sends_nothing_twice(
    broker: EmbeddedBroker, pool: asyncpg.Pool, unique: str
) -> None:
    """The one window the kills above rarely hit, made to happen: the records are on the
    topic, the transaction marking them published is lost. The next publisher reads the
    topic's tail back first, and sends none of them again."""
    topic = f"test.{unique}.audiences"
    await ensure_topics(broker.bootstrap_servers, [topic], partitions=3)
    view = AudienceView()
    async with pool.acquire() as conn:
        await versions.ensure_live(conn, "audiences", view.schema, view.shared_schema)
        await conn.executemany(
            f"INSERT INTO {OUTBOX} (id, customer_id, record) VALUES ($1, $2, $3)",
            [(f"a:c{i}:1", f"c{i}", json.dumps({"id": f"a:c{i}:1"}).encode()) for i in range(30)],
        )
    kafka = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await kafka.start()
    try:

        async def send_then_die(records: Sequence[tuple[bytes, bytes]]) -> None:
            await publish_all(kafka, topic, records)
            raise Crash

        async def recall(tail: int) -> set[str]:
            partitions = await kafka.partitions_for(topic)
            return await published_ids(broker.bootstrap_servers, [topic], partitions, tail, "id")

        with pytest.raises(Crash):
            await AudiencePublisher(pool, send_then_die).publish_pending()
        restarted = AudiencePublisher(pool, functools.partial(publish_all, kafka, topic), recall)
        assert await restarted.recalled() == 30
        assert await restarted.publish_pending() == 30  # taken and marked, none sent
        assert await restarted.publish_pending() == 0
    finally:
        await kafka.stop()
    ids = Counter(
        json.loads(r.value)["id"] for r in await read_topic(broker.bootstrap_servers, topic, 3)
    )
    assert ids == Counter({f"a:c{i}:1": 1 for i in range(30)})
