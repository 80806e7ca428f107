"""The projection runner: Kafka in, one PostgreSQL transaction per batch out.

Each batch's view changes, its dead letters and the *next* offset of every
partition it read are committed in one transaction ("storing offsets outside
Kafka"). On start and on every assignment the consumer seeks to the stored
offsets, so a crash at any moment neither loses nor doubles an effect:
whatever was not committed is read again, and views are idempotent anyway.

Fencing: the transaction locks the offset rows of the partitions it applies
and drops records below the stored offset, so a worker that still holds
records of a partition revoked from it cannot apply them twice.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from consumers import checkpoints
from consumers.deadletter import DeadLetter
from consumers.ordering import TimestampMerge
from consumers.view import Unapplicable, View
from events import InvalidEvent
from events.codec import TOUCHPOINTS, Codec
from projections.db import DATABASE_UNAVAILABLE, SCHEMA_LOCK, Connection, retry_delay

log = structlog.get_logger()

# A view may reject a single event (a value out of range for a column, a broken
# invariant): that event is dead-lettered. Anything else is an infrastructure or
# programming error, retried and then surfaced.
_DATA_ERRORS = (
    Unapplicable,
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)
_TRANSIENT_ERRORS = (
    *DATABASE_UNAVAILABLE,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    KafkaError,
)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    bootstrap_servers: str
    topic: str
    deadletter_topic: str
    group_id: str
    idempotence: bool = True
    batch_max_records: int = 5000
    partitions: Sequence[int] | None = None
    """Read these partitions directly instead of joining the consumer group."""
    max_retries: int = 8
    ordered_by_timestamp: bool = False
    """Apply records in (timestamp, partition, offset) order across partitions, so that a
    replay interleaves partitions exactly as the first run did (see consumers/ordering.py)."""
    revoke_drain_timeout: float = 30.0


Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
_Client = TypeVar("_Client", AIOKafkaConsumer, AIOKafkaProducer)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    generation: int
    records: Sequence[Record]
    decoded: list[tuple[Record, Any]]
    dead_letters: list[DeadLetter]
    changes: Any


class ProjectionRunner:
    """Applies ``topic`` to one view, exactly-once in effect."""

    def __init__(
        self, config: RunnerConfig, pool: asyncpg.Pool, view: View, codec: Codec[Any] = TOUCHPOINTS
    ) -> None:
        self.codec = codec
        self.config = config
        self.pool = pool
        self.view = view
        self.name = view.name
        self._batch_lock = asyncio.Lock()
        self._generation = 0
        self._merge = TimestampMerge()
        self._fetched_to: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.applied = 0
        self.dead_lettered = 0

    # --- lifecycle -------------------------------------------------------------------

    @staticmethod
    def _started(client: _Client | None) -> _Client:
        if client is None:
            raise RuntimeError("the runner is not running: call run() first")
        return client

    async def prepare(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            await checkpoints.create_tables(conn)
            await self.view.create(conn)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or forever)."""
        stop = stop or asyncio.Event()
        await self.prepare()
        cfg = self.config
        self._producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap_servers,
            acks="all",
            enable_idempotence=cfg.idempotence,
            client_id=f"{self.name}-deadletters",
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap_servers,
            group_id=None if cfg.partitions is not None else cfg.group_id,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        await self._producer.start()
        await self._consumer.start()
        try:
            if cfg.partitions is not None:
                tps = [TopicPartition(cfg.topic, p) for p in cfg.partitions]
                self._consumer.assign(tps)
                await self._seek_to_stored(tps)
            else:
                self._consumer.subscribe([cfg.topic], listener=_SeekOnAssign(self))
            log.info(
                "runner_started",
                consumer=self.name,
                topic=cfg.topic,
                partitions=list(cfg.partitions) if cfg.partitions is not None else "group",
            )
            await self._loop(stop)
        finally:
            await self._consumer.stop()
            await self._producer.stop()
            log.info(
                "runner_stopped",
                consumer=self.name,
                applied=self.applied,
                dead_lettered=self.dead_lettered,
            )

    async def _loop(self, stop: asyncio.Event) -> None:
        """A pipeline: batch N is written to PostgreSQL while batch N+1 is decoded (in the
        view's helper process, if it has one, with N+2 queued behind it) and N+2 fetched."""
        consumer = self._started(self._consumer)
        failures = 0
        writing: asyncio.Task[None] | None = None
        decoding: asyncio.Task[PreparedBatch] | None = None
        upcoming: asyncio.Task[PreparedBatch] | None = None
        try:
            while not stop.is_set() or writing is not None or decoding is not None:
                records = [] if stop.is_set() else await self._next_records(consumer)
                upcoming = (
                    asyncio.create_task(self.prepare_batch(records, self._generation))
                    if records
                    else None
                )
                if writing is not None:
                    try:
                        await writing
                        failures = 0
                    except _TRANSIENT_ERRORS as exc:
                        failures += 1
                        if failures > self.config.max_retries:
                            raise
                        delay = retry_delay(failures)
                        log.warning(
                            "batch_failed_retrying",
                            consumer=self.name,
                            error=repr(exc),
                            attempt=failures,
                            retry_in_s=delay,
                        )
                        await asyncio.sleep(delay)
                        await self._seek_to_stored(consumer.assignment())
                    writing = None
                if decoding is not None:
                    prepared = await decoding
                    if prepared.generation == self._generation:
                        writing = asyncio.create_task(self.commit_batch(prepared))
                decoding, upcoming = upcoming, None
        finally:
            for task in (writing, decoding, upcoming):
                if task is not None and not task.done():
                    task.cancel()

    async def _next_records(self, consumer: AIOKafkaConsumer) -> list[Record]:
        limit = self.config.batch_max_records
        if not self.config.ordered_by_timestamp:
            batch = await consumer.getmany(timeout_ms=200, max_records=limit)
            return [r for rs in batch.values() for r in rs]

        def caught_up(tp: TopicPartition) -> bool:
            highwater = consumer.highwater(tp)
            return highwater is not None and self._fetched_to.get(tp, 0) >= highwater

        # The merge releases only as far as every partition has been fetched; keep fetching
        # (briefly) so that a batch is not cut short each time one partition's buffer empties.
        records: list[Record] = []
        deadline = asyncio.get_running_loop().time() + 0.25
        while len(records) < limit:
            batch = await consumer.getmany(timeout_ms=50, max_records=limit)
            for tp, fetched in batch.items():
                self._fetched_to[tp] = fetched[-1].offset + 1
            self._merge.add(batch)
            records += self._merge.release(consumer.assignment(), caught_up, limit - len(records))
            if not batch or asyncio.get_running_loop().time() > deadline:
                break
        return records

    async def _seek_to_stored(self, partitions: Iterable[TopicPartition]) -> None:
        """Position the consumer at the offsets committed with the view."""
        consumer = self._started(self._consumer)
        tps = [tp for tp in partitions if tp.topic == self.config.topic]
        if not tps:
            return
        stored = await checkpoints.stored_offsets(self.pool, self.name, self.config.topic)
        self._generation += 1  # batches fetched before this seek are dropped, not applied
        self._merge.reset()
        reset = getattr(self.view, "reset", None)
        if reset is not None:
            reset()
        for tp in tps:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
            self._fetched_to[tp] = await consumer.position(tp)
        log.info(
            "runner_positioned",
            consumer=self.name,
            offsets={tp.partition: stored.get(tp.partition, 0) for tp in tps},
        )

    # --- one batch -------------------------------------------------------------------

    async def apply_batch(self, records: Sequence[Record]) -> None:
        """Apply records of any partitions of ``topic`` in one transaction."""
        await self.commit_batch(await self.prepare_batch(records))

    async def prepare_batch(
        self, records: Sequence[Record], generation: int | None = None
    ) -> PreparedBatch:
        """Decode a batch (CPU only; runs while the previous batch is being written).
        ``generation``: the runner's when the records were fetched (a seek since drops them)."""
        generation = self._generation if generation is None else generation
        decoded: list[tuple[Record, Any]] = []
        letters: list[DeadLetter] = []
        values = [r.value for r in records]
        decode = getattr(self.view, "decode", None)
        outcomes = await decode(values) if decode is not None else self.codec.decode_many(values)
        for r, outcome in zip(records, outcomes, strict=True):
            if isinstance(outcome, InvalidEvent):
                letters.append(self._dead_letter(r, f"invalid event: {outcome}"))
            else:
                decoded.append((r, outcome))
        changes = self._changes(decoded)
        return PreparedBatch(generation, records, decoded, letters, changes)

    def _changes(self, decoded: Sequence[tuple[Record, Any]]) -> Any:
        return self.view.changes([event for _, event in decoded])

    async def commit_batch(self, batch: PreparedBatch) -> None:
        """View changes, dead letters and next offsets: one transaction."""
        records = batch.records
        async with self._batch_lock, self.pool.acquire() as conn, conn.transaction():
            if batch.generation != self._generation:
                return  # fetched before a seek: those records will be read again
            stored = await checkpoints.lock_offsets(
                conn, self.name, self.config.topic, {r.partition for r in records}
            )

            def fresh(r: Record) -> bool:
                return bool(r.offset >= stored[r.partition])

            records = [r for r in records if fresh(r)]
            if not records:
                return
            decoded = [(r, e) for r, e in batch.decoded if fresh(r)]
            letters = [d for d in batch.dead_letters if d.offset >= stored[d.partition]]
            changes = (
                batch.changes if len(decoded) == len(batch.decoded) else self._changes(decoded)
            )
            try:
                async with conn.transaction():
                    await self.view.write(conn, changes)
            except _DATA_ERRORS as exc:
                letters += await self._isolate(conn, decoded, exc)
            if letters:
                await self._publish_dead_letters(letters)
                await checkpoints.record_dead_letters(conn, letters)
            next_offsets: dict[int, int] = defaultdict(int)
            for r in records:
                next_offsets[r.partition] = max(next_offsets[r.partition], r.offset + 1)
            await checkpoints.advance(conn, self.name, self.config.topic, next_offsets)
        committed = getattr(self.view, "committed", None)
        if committed is not None:
            committed()
        self.applied += len(records) - len(letters)
        self.dead_lettered += len(letters)
        log.debug(
            "batch_applied",
            consumer=self.name,
            records=len(records),
            dead_letters=len(letters),
            next_offsets=dict(next_offsets),
        )

    async def _isolate(
        self, conn: Connection, decoded: Sequence[tuple[Record, Any]], exc: Exception
    ) -> list[DeadLetter]:
        """``decoded`` as a whole was rejected: find the events the view rejects and apply
        all the others, in order.

        Bisects: halves are retried in savepoints, so one bad event in a batch of 20,000
        costs some 30 attempts, not 20,000 (which would also hold a revoke or a stop up).
        """
        if len(decoded) == 1:
            return [self._dead_letter(decoded[0][0], f"view {self.name} rejected it: {exc}")]
        middle = len(decoded) // 2
        letters = []
        for half in (decoded[:middle], decoded[middle:]):
            try:
                async with conn.transaction():
                    await self.view.write(conn, self._changes(half))
            except _DATA_ERRORS as rejected:
                letters += await self._isolate(conn, half, rejected)
        return letters

    def _dead_letter(self, r: Record, reason: str) -> DeadLetter:
        log.warning(
            "event_dead_lettered",
            consumer=self.name,
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            reason=reason,
        )
        return DeadLetter.of(self.name, r.topic, r.partition, r.offset, r.key, r.value, reason)

    async def _publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Acknowledged by the broker before the offsets move past them."""
        producer = self._started(self._producer)
        futures = [
            await producer.send(self.config.deadletter_topic, d.to_json(), key=d.kafka_key())
            for d in letters
        ]
        await asyncio.gather(*futures)


class _SeekOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Bounded drain: let the batch in flight commit before giving the partitions up.
        async with (
            asyncio.timeout(self.runner.config.revoke_drain_timeout),
            self.runner._batch_lock,
        ):
            log.info(
                "partitions_revoked",
                consumer=self.runner.name,
                partitions=sorted(tp.partition for tp in revoked),
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.runner._seek_to_stored(assigned)
