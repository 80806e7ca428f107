"""In-memory adapters of the runner's ports (``consumers/ports.py``), for fast tests.

``MemoryLog`` holds topics of partitions of records; its reader is the only member of
its group (every partition is assigned to it) and, like aiokafka, starts fetching from
the beginning before its rebalance listener has returned. ``MemoryCheckpoints`` stages
every write of a transaction — the view's too, through ``MemoryTransaction.stage`` — and
applies them together at commit, one transaction at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence

from aiokafka.structs import ConsumerRecord

from consumers.deadletter import DeadLetter
from consumers.ports import Errors, Rebalance, Record, TopicPartition
from consumers.publishing import partition_for

_UNREACHABLE: Errors = (ConnectionError,)


class MemoryLog:
    """Topics, each a list of partitions, each a list of records."""

    def __init__(self) -> None:
        self._topics: dict[str, list[list[Record]]] = {}
        self._clock = itertools.count(1)
        self._appended = asyncio.Event()

    def create_topic(self, topic: str, partitions: int = 6) -> None:
        self._topics.setdefault(topic, [[] for _ in range(partitions)])

    def partitions(self, topic: str) -> int:
        return len(self._topics[topic])

    def records(self, topic: str, partition: int) -> list[Record]:
        return self._topics[topic][partition]

    def append(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        timestamp: int | None = None,
    ) -> Record:
        """Append a record: to ``partition``, else where Kafka puts ``key``."""
        partitions = self._topics[topic]
        if partition is None:
            partition = partition_for(key or b"", len(partitions))
        records = partitions[partition]
        record: Record = ConsumerRecord(
            topic,
            partition,
            len(records),
            next(self._clock) if timestamp is None else timestamp,
            0,
            key,
            value,
            None,
            len(key or b""),
            len(value or b""),
            (),
        )
        records.append(record)
        self._appended.set()
        self._appended = asyncio.Event()
        return record

    async def appended(self, timeout_s: float) -> None:
        """Return when a record is appended, or after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), timeout_s)


class MemoryReader:
    outages: Errors = _UNREACHABLE

    def __init__(self, log: MemoryLog) -> None:
        self.log = log
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._highwaters: dict[TopicPartition, int] = {}
        self._joining: tuple[str, Rebalance] | None = None
        self._listening: asyncio.Task[None] | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        self._assigned.clear()

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._assigned = set(partitions)
        self._positions = dict.fromkeys(self._assigned, 0)

    def subscribe(self, topic: str, listener: Rebalance) -> None:
        self._joining = (topic, listener)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def _join(self) -> None:
        """The group hands every partition to its one member, fetching from the beginning
        at once while the listener runs (as aiokafka does: DESIGN.md, pitfall 7)."""
        if self._joining is None:
            return
        topic, listener = self._joining
        self._joining = None
        self.assign([TopicPartition(topic, p) for p in range(self.log.partitions(topic))])
        self._listening = asyncio.create_task(listener.on_partitions_assigned(self.assignment()))

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        self._join()
        fetched = self._fetch(max_records)
        if not fetched:
            # Shorter than asked (allowed: nothing arrived), so that a stop is seen at once.
            await self.log.appended(min(timeout_ms / 1000, 0.01))
            fetched = self._fetch(max_records)
        return fetched

    def _fetch(self, limit: int) -> dict[TopicPartition, list[Record]]:
        fetched: dict[TopicPartition, list[Record]] = {}
        for tp in sorted(self._assigned):
            records = self.log.records(tp.topic, tp.partition)
            self._highwaters[tp] = len(records)
            start = self._positions[tp]
            taken = records[start : start + limit]
            if taken:
                fetched[tp] = taken
                self._positions[tp] = start + len(taken)
                limit -= len(taken)
        return fetched

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition not in self._assigned:
            raise ValueError(f"{partition} is not assigned")
        self._positions[partition] = offset

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._highwaters.get(partition)

    async def beginning_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def log_ends(
        self, positions: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        return {tp: len(self.log.records(tp.topic, tp.partition)) for tp in positions}


class MemoryWriter:
    outages: Errors = _UNREACHABLE

    def __init__(self, log: MemoryLog) -> None:
        self.log = log

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        for key, value in records:
            self.log.append(topic, key, value)


class MemoryTransaction:
    """Writes staged until the transaction commits; a savepoint drops its own on failure."""

    def __init__(self) -> None:
        self.staged: list[Callable[[], None]] = []

    def stage(self, write: Callable[[], None]) -> None:
        self.staged.append(write)


class MemoryCheckpoints:
    """The checkpoint store in memory. ``rejections``: a view's ``Unapplicable`` is the
    only way it refuses an event, as a PostgreSQL error is for a PostgreSQL view."""

    outages: Errors = _UNREACHABLE
    rejections: Errors = ()

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.letters: dict[tuple[str, str, int, int], DeadLetter] = {}
        self._lock = asyncio.Lock()

    async def prepare(self, schema: Sequence[str], shared: Sequence[str] = ()) -> None:
        return None

    async def close(self) -> None:
        return None

    async def stored_offsets(self, consumer: str, topic: str) -> dict[int, int]:
        return {p: o for (c, t, p), o in self.offsets.items() if (c, t) == (consumer, topic)}

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTransaction]:
        async with self._lock:  # one at a time: what FOR UPDATE makes of concurrent workers
            tx = MemoryTransaction()
            yield tx
            for write in tx.staged:
                write()

    @contextlib.asynccontextmanager
    async def savepoint(self, tx: MemoryTransaction) -> AsyncIterator[None]:
        mark = len(tx.staged)
        try:
            yield
        except BaseException:
            del tx.staged[mark:]
            raise

    async def lock_offsets(
        self, tx: MemoryTransaction, consumer: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, int]:
        keys = [(consumer, topic, p) for p in sorted(set(partitions))]

        def create() -> None:
            for key in keys:
                self.offsets.setdefault(key, 0)

        tx.stage(create)
        return {p: self.offsets.get((c, t, p), 0) for c, t, p in keys}

    async def advance(
        self, tx: MemoryTransaction, consumer: str, topic: str, next_offsets: Mapping[int, int]
    ) -> None:
        offsets = {(consumer, topic, p): o for p, o in next_offsets.items()}
        tx.stage(lambda: self.offsets.update(offsets))

    async def record_dead_letters(
        self, tx: MemoryTransaction, letters: Sequence[DeadLetter]
    ) -> None:
        def record() -> None:
            for d in letters:
                self.letters.setdefault((d.consumer, d.topic, d.partition, d.offset), d)

        tx.stage(record)

    async def dead_letters(self, consumer: str) -> list[DeadLetter]:
        return [d for key, d in sorted(self.letters.items()) if key[0] == consumer]
