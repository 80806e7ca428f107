"""The runner's contract and its ports' (``tests/runner_contract.py``) on the real
adapters: the embedded broker and PostgreSQL, wired as ``touchlog.bootstrap`` wires them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from consumers.checkpoints import PostgresCheckpoints
from consumers.deadletter import DeadLetter
from consumers.kafka import KafkaReader, KafkaWriter
from consumers.ports import CheckpointStore, LogReader, LogWriter
from consumers.runner import ProjectionRunner, RunnerConfig
from consumers.view import View
from projections.timeline.postgres import TABLE, TimelineView
from tests import runner_contract as contract
from tests.integration.kafka_support import read_topic
from touchlog.bootstrap import projection_runner
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def _rows(pool: asyncpg.Pool) -> set[tuple[str, str]]:
    rows = await pool.fetch(f"SELECT subject_key, message_id FROM {TABLE}")
    return {(r["subject_key"], r["message_id"]) for r in rows}


class KafkaPostgresWorld(contract.RunnerWorld):
    def __init__(self, bootstrap: str, topics: dict[str, str], pool: asyncpg.Pool, group: str):
        self.bootstrap, self.pool, self.group = bootstrap, pool, group
        self.topic, self.deadletter_topic = topics["touchpoints"], topics["deadletter"]
        self.store = PostgresCheckpoints(pool)

    def view(self) -> View[Any]:
        return TimelineView()

    def runner(
        self, view: View[Any], *, store: CheckpointStore[Any] | None = None, group: bool = False
    ) -> ProjectionRunner[Any]:
        config = RunnerConfig(
            self.bootstrap,
            self.topic,
            self.deadletter_topic,
            self.group,
            idempotence=False,
            batch_max_records=50,
            partitions=None if group else range(6),
        )
        runner = projection_runner(config, self.pool, view)
        if store is None:
            return runner
        return ProjectionRunner(config, view, store, runner.reader, runner.writer)

    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        writer = KafkaWriter(self.bootstrap, "contract", idempotence=False)
        await writer.start()
        try:
            await writer.publish(self.topic, records)
        finally:
            await writer.stop()

    async def timeline(self) -> set[tuple[str, str]]:
        return await _rows(self.pool)

    async def published_dead_letters(self) -> list[DeadLetter]:
        records = await read_topic(self.bootstrap, self.deadletter_topic)
        return [DeadLetter.from_json(r.value) for r in records if r.value is not None]


class TestKafkaPostgresRunner(contract.RunnerContract):
    @pytest.fixture
    async def world(
        self, broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, unique: str
    ) -> contract.RunnerWorld:
        return KafkaPostgresWorld(broker.bootstrap_servers, topics, pool, f"g-{unique}")


class PostgresCheckpointWorld(contract.CheckpointWorld):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.store = PostgresCheckpoints(pool)
        self.view = TimelineView()

    async def timeline(self) -> set[tuple[str, str]]:
        return await _rows(self.pool)


class TestPostgresCheckpoints(contract.CheckpointStoreContract):
    @pytest.fixture
    async def checkpoints(self, pool: asyncpg.Pool) -> contract.CheckpointWorld:
        world = PostgresCheckpointWorld(pool)
        await world.store.prepare(world.view.schema)
        return world


class KafkaLogWorld(contract.LogWorld):
    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.bootstrap, self.topic, self.group = bootstrap, topic, group

    def reader(self, *, group: bool = False) -> LogReader:
        return KafkaReader(self.bootstrap, "contract", self.group if group else None)

    def writer(self) -> LogWriter:
        return KafkaWriter(self.bootstrap, "contract", idempotence=False)


class TestKafkaLog(contract.LogContract):
    @pytest.fixture
    def log(self, broker: EmbeddedBroker, topics: dict[str, str], unique: str) -> contract.LogWorld:
        return KafkaLogWorld(broker.bootstrap_servers, topics["touchpoints"], f"g-{unique}")
