"""What the projection runner needs from the outside: the log it reads, the log it
dead-letters to, and the store that keeps its offsets with the view.

Each port has a real adapter (``consumers/kafka.py``: aiokafka; ``consumers/checkpoints.py``:
PostgreSQL) and an in-memory one (``consumers/memory.py``); one contract test class runs
against both (``tests/runner_contract.py``). The names follow aiokafka's, so the Kafka
adapter is a thin pass-through and its behaviour is exactly aiokafka's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeAlias, TypeVar

from aiokafka.structs import ConsumerRecord, TopicPartition

from consumers.deadletter import DeadLetter

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Errors: TypeAlias = tuple[type[Exception], ...]

__all__ = [
    "CheckpointStore",
    "Errors",
    "LogReader",
    "LogWriter",
    "Rebalance",
    "Record",
    "TopicPartition",
]


class Rebalance(Protocol):
    """Told when the group takes partitions away or hands them over."""

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None: ...

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None: ...


class LogReader(Protocol):
    """A consumer of one topic: assigned partitions directly, or a member of a group.

    As with aiokafka, a group assignment may start fetching (from the beginning) before
    ``on_partitions_assigned`` has returned: the runner's gate (``consumers/positions.py``)
    lets nothing through until it has sought to the stored offsets.
    """

    outages: Errors
    """Errors meaning the broker cannot be reached for now (waited out, then surfaced)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    def subscribe(self, topic: str, listener: Rebalance) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def highwater(self, partition: TopicPartition) -> int | None:
        """The partition's end as of the last fetch (None before one)."""

    async def beginning_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]: ...

    async def log_ends(
        self, positions: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        """Each partition's end, read at the given position (None: past the end)."""


class LogWriter(Protocol):
    """A producer: where dead letters go."""

    outages: Errors

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (key, value) records; returns once the log acknowledged every one."""


Tx = TypeVar("Tx")


class CheckpointStore(Protocol[Tx]):
    """Next offset per (consumer, topic, partition) and dead letters, written in the same
    transaction as the view they belong to.

    ``lock_offsets`` fences: a second worker applying the same partitions waits there,
    then sees what the first one committed.
    """

    outages: Errors
    """Errors meaning the store cannot be reached for now."""
    rejections: Errors
    """Errors by which the store refuses what a view wrote for one event (a value out of
    range, a broken constraint): that event is dead-lettered."""

    async def prepare(self, schema: Sequence[str], shared: Sequence[str] = ()) -> None:
        """Create the store's tables and the view's (``schema``; ``shared``: its tables
        that every version of the view shares), if missing."""

    async def close(self) -> None:
        """The runner has stopped: release whatever the store holds for it."""

    async def stored_offsets(self, consumer: str, topic: str) -> dict[int, int]:
        """Committed next offsets, per partition."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def savepoint(self, tx: Tx) -> AbstractAsyncContextManager[Any]:
        """A nested transaction: undone alone if the block raises."""

    async def lock_offsets(
        self, tx: Tx, consumer: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, int]:
        """Lock ``partitions``' offsets (missing ones start at 0) until ``tx`` ends."""

    async def advance(
        self, tx: Tx, consumer: str, topic: str, next_offsets: Mapping[int, int]
    ) -> None: ...

    async def record_dead_letters(self, tx: Tx, letters: Sequence[DeadLetter]) -> None: ...

    async def dead_letters(self, consumer: str) -> list[DeadLetter]:
        """Committed dead letters, in (topic, partition, offset) order."""
