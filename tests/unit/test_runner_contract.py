"""The runner's contract and its ports', on the in-memory adapters (no broker, no
database): ``tests/runner_contract.py``; the same classes run on Kafka and PostgreSQL in
``tests/integration/test_runner_contract.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from consumers.deadletter import DeadLetter
from consumers.memory import MemoryCheckpoints, MemoryLog, MemoryReader, MemoryWriter
from consumers.ports import CheckpointStore, LogReader, LogWriter
from consumers.runner import ProjectionRunner, RunnerConfig
from consumers.view import View
from projections.timeline.memory import MemoryTimeline
from tests import runner_contract as contract

TOPIC, DEADLETTERS = "touchpoints", "deadletters"


def _rows(timeline: MemoryTimeline) -> set[tuple[str, str]]:
    return {(key, message_id) for key, _, message_id in timeline.rows}


class MemoryWorld(contract.RunnerWorld):
    topic, deadletter_topic = TOPIC, DEADLETTERS

    def __init__(self) -> None:
        self.log = MemoryLog()
        self.log.create_topic(TOPIC, 6)
        self.log.create_topic(DEADLETTERS, 1)
        self.store = MemoryCheckpoints()
        self._timeline = MemoryTimeline()

    def view(self) -> View[Any]:
        return self._timeline

    def runner(
        self, view: View[Any], *, store: CheckpointStore[Any] | None = None, group: bool = False
    ) -> ProjectionRunner[Any]:
        config = RunnerConfig(
            "memory",
            TOPIC,
            DEADLETTERS,
            "group",
            batch_max_records=50,
            partitions=None if group else range(6),
        )
        return ProjectionRunner(
            config, view, store or self.store, MemoryReader(self.log), MemoryWriter(self.log)
        )

    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        for key, value in records:
            self.log.append(TOPIC, key, value)

    async def timeline(self) -> set[tuple[str, str]]:
        return _rows(self._timeline)

    async def published_dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.from_json(r.value or b"") for r in self.log.records(DEADLETTERS, 0)]


class TestMemoryRunner(contract.RunnerContract):
    @pytest.fixture
    def world(self) -> contract.RunnerWorld:
        return MemoryWorld()


class MemoryCheckpointWorld(contract.CheckpointWorld):
    def __init__(self) -> None:
        self.store = MemoryCheckpoints()
        self._timeline = MemoryTimeline()
        self.view = self._timeline

    async def timeline(self) -> set[tuple[str, str]]:
        return _rows(self._timeline)


class TestMemoryCheckpoints(contract.CheckpointStoreContract):
    @pytest.fixture
    def checkpoints(self) -> contract.CheckpointWorld:
        return MemoryCheckpointWorld()


class MemoryLogWorld(contract.LogWorld):
    topic = TOPIC

    def __init__(self) -> None:
        self.memory = MemoryLog()
        self.memory.create_topic(TOPIC, 6)

    def reader(self, *, group: bool = False) -> LogReader:
        return MemoryReader(self.memory)

    def writer(self) -> LogWriter:
        return MemoryWriter(self.memory)


class TestMemoryLog(contract.LogContract):
    @pytest.fixture
    def log(self) -> contract.LogWorld:
        return MemoryLogWorld()
