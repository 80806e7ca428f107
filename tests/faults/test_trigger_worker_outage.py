"""The faust triggers worker through a PostgreSQL outage: a sealed record read while the
data keys cannot be fetched waits for them, then fires its trigger — once; past the outage
tolerance the worker exits without acknowledging it, and the next start fires it.

faust acknowledges a record whose step raised, so before the worker waited the record
was passed over and its trigger lost (the ground-truth fault test caught one in CI).
Real broker, real faust worker process, its own PostgreSQL stopped and started again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers.triggers.app import EXIT_OUTAGE
from events.resolved import resolved_value
from privacy.keys import KeyRing, MasterKey, PostgresKeyStore
from privacy.runtime import create_tables
from privacy.sealing import Sealer, key_ids
from tests.factories import BASE_TIME
from tests.faults.pipeline_processes import PrivatePostgres, wait_for_database
from tests.integration.conftest import broker, master_key  # noqa: F401
from tests.integration.trigger_worker_support import TriggerWorld
from tests.triggers_support import survey, touchpoint
from tests.waiting import eventually
from touchlog import embedded

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {name: unhappy-call-back, type: survey_follow_up}
"""


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as server:
        yield server


async def _sealed_surveys(url: str, master: str, customers: list[str]) -> dict[str, bytes]:
    """Each customer's unhappy survey as the resolver writes it: sealed, keys in ``url``."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await create_tables(conn)
        sealer = Sealer(KeyRing(PostgresKeyStore(pool, MasterKey.from_text(master))))
        await sealer.start()
        events = [
            touchpoint("survey.responded", c, BASE_TIME, survey(1, 3), email=f"{c}@example.org")
            for c in customers
        ]
        sealed = await sealer.seal(events)
    finally:
        await pool.close()
    records = {c: resolved_value(c, value) for c, (_, value) in zip(customers, sealed, strict=True)}
    assert len(key_ids(list(records.values()))) == len(customers)  # a key each to fetch
    return records


async def _publish(world: TriggerWorld, customer: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=world.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(world.names["resolved"], value, key=customer.encode())
    finally:
        await producer.stop()


def _logged(world: TriggerWorld) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        return world.log_text()

    return probe


async def _ann_fired(
    kafka: embedded.EmbeddedBroker,
    server: PrivatePostgres,
    master: str,
    data_dir: Path,
    more: dict[str, str] | None = None,
) -> tuple[TriggerWorld, dict[str, bytes], dict[str, str]]:
    """A worker on ``server``'s keys that has fired ann's trigger; bob's record sealed,
    not yet published; the worker's settings, to start it again."""
    records = await _sealed_surveys(server.url, master, ["ann", "bob"])
    world = TriggerWorld(kafka.bootstrap_servers, uuid.uuid4().hex[:10], data_dir)
    await world.create_topics()
    settings = {"DATABASE_URL": server.url, "TOUCHLOG_MASTER_KEY": master} | (more or {})
    world.start(RULES, settings)
    try:
        await _publish(world, "ann", records["ann"])
        await eventually(world.triggers, lambda ts: len(ts) == 1, timeout=120, what="ann's")
    except BaseException:
        world.stop()
        raise
    return world, records, settings


async def test_a_sealed_record_read_during_a_database_outage_fires_once_it_is_back(
    broker: embedded.EmbeddedBroker,  # noqa: F811
    private_postgres: PrivatePostgres,
    master_key: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    world, records, _ = await _ann_fired(broker, private_postgres, master_key, tmp_path)
    try:
        private_postgres.stop()
        try:
            await _publish(world, "bob", records["bob"])  # bob's key: not in the worker's cache
            await eventually(
                _logged(world),
                lambda text: "trigger_record_retrying" in text,
                timeout=60,
                what="the worker waiting for the data keys",
            )
        finally:
            private_postgres.start()
        await wait_for_database(private_postgres.url)

        triggers = await eventually(
            world.triggers, lambda ts: len(ts) >= 2, timeout=120, what="bob's trigger"
        )
        assert world.process is not None
        assert world.process.poll() is None, world.log_text()  # waited, never gave up
    finally:
        code = world.stop()
    assert code == 0, world.log_text()
    assert sorted((t.customer_id, t.rule) for t in triggers) == [
        ("ann", "unhappy-call-back"),
        ("bob", "unhappy-call-back"),
    ]
    assert "trigger_worker_gave_up" not in world.log_text()


async def test_past_its_tolerance_the_worker_exits_unacknowledged_and_a_restart_fires(
    broker: embedded.EmbeddedBroker,  # noqa: F811
    private_postgres: PrivatePostgres,
    master_key: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    world, records, settings = await _ann_fired(
        broker, private_postgres, master_key, tmp_path, {"TOUCHLOG_OUTAGE_TOLERANCE_SECONDS": "2"}
    )
    try:
        private_postgres.stop()
        try:
            await _publish(world, "bob", records["bob"])
            assert world.process is not None
            code = await asyncio.to_thread(world.process.wait, 120)
        finally:
            private_postgres.start()
        assert code == EXIT_OUTAGE, world.log_text()
        assert "trigger_worker_gave_up" in world.log_text()
        await wait_for_database(private_postgres.url)

        world.start(RULES, settings)  # bob's record was not acknowledged: read again
        triggers = await eventually(
            world.triggers, lambda ts: len(ts) >= 2, timeout=120, what="bob's trigger"
        )
    finally:
        world.stop()
    assert sorted((t.customer_id, t.rule) for t in triggers) == [
        ("ann", "unhappy-call-back"),
        ("bob", "unhappy-call-back"),
    ]
