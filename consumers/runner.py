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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from consumers import checkpoints
from consumers.deadletter import DeadLetter
from consumers.log_check import check_within_log
from consumers.ordering import TimestampMerge
from consumers.outage import OUTAGE_TOLERANCE_S, Outage
from consumers.positions import Positions
from consumers.view import Unapplicable, View
from events import InvalidEvent
from events.codec import TOUCHPOINTS, Codec
from projections.db import DATABASE_UNAVAILABLE, Connection, create_tables

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


class PositionGap(Exception):  # a reason to reposition, like a lost connection
    """A batch would not start where the view's stored offset says: reposition and retry."""


_TRANSIENT_ERRORS = (
    *DATABASE_UNAVAILABLE,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    KafkaError,
    PositionGap,
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
    outage_tolerance_s: float = OUTAGE_TOLERANCE_S
    """How long an unreachable database or broker is waited out before the stage stops."""
    ordered_by_timestamp: bool = False
    """Apply records in (timestamp, partition, offset) order across partitions, so that a
    replay interleaves partitions exactly as the first run did (see consumers/ordering.py)."""
    revoke_drain_timeout: float = 30.0


Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
_Client = TypeVar("_Client", AIOKafkaConsumer, AIOKafkaProducer)


@dataclass(frozen=True, slots=True)
class Fetched:
    records: list[Record]
    generation: int
    """The runner's generation when they were fetched: a seek since makes them void."""
    starts: dict[int, int]
    """Per partition, the offset the records start from (all before it were fetched)."""


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    generation: int
    records: Sequence[Record]
    starts: Mapping[int, int] | None
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
        self._positions = Positions()
        self._seek_lock = asyncio.Lock()
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
        async with self.pool.acquire() as conn:
            await create_tables(conn, checkpoints.SCHEMA, *self.view.schema)

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
        view's helper process, if it has one, with N+2 queued behind it) and N+2 fetched.

        An unreachable database or broker is waited out (``Outage``): whatever was in
        flight is dropped, and reading resumes from the stored offsets once it is back."""
        outage = Outage(self.config.outage_tolerance_s)
        writing: asyncio.Task[None] | None = None
        decoding: asyncio.Task[PreparedBatch] | None = None
        upcoming: asyncio.Task[PreparedBatch] | None = None
        while not stop.is_set() or writing is not None or decoding is not None:
            try:
                if not stop.is_set():
                    await self._settle()
                fetched = None if stop.is_set() else await self._next_records()
                if fetched is not None and fetched.records:
                    upcoming = asyncio.create_task(
                        self.prepare_batch(fetched.records, fetched.generation, fetched.starts)
                    )
                if writing is not None:
                    written, writing = writing, None
                    await written
                    outage.ended()
                if decoding is not None:
                    prepared = await decoding
                    decoding = None
                    if prepared.generation == self._generation:
                        writing = asyncio.create_task(self.commit_batch(prepared))
                decoding, upcoming = upcoming, None
            except _TRANSIENT_ERRORS as exc:
                for task in (writing, decoding, upcoming):
                    if task is not None and not task.done():
                        task.cancel()
                writing = decoding = upcoming = None
                self._invalidate()  # what was fetched will be read again from stored offsets
                delay = outage.failed()
                if delay is None:
                    log.exception(
                        "runner_gave_up",
                        consumer=self.name,
                        error=repr(exc),
                        outage_s=round(outage.lasted(), 1),
                    )
                    raise
                log.warning(
                    "batch_failed_retrying",
                    consumer=self.name,
                    error=repr(exc),
                    attempt=outage.failures,
                    outage_s=round(outage.lasted(), 1),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
            except BaseException:
                for task in (writing, decoding, upcoming):
                    if task is not None and not task.done():
                        task.cancel()
                raise

    async def _next_records(self) -> Fetched:
        """The next records to apply: records of settled partitions only, each (partition,
        offset) once, with the generation they belong to (see consumers/positions.py)."""
        consumer = self._started(self._consumer)
        limit = self.config.batch_max_records
        positions = self._positions
        if not self.config.ordered_by_timestamp:
            batch = await consumer.getmany(timeout_ms=200, max_records=limit)
            records = [r for rs in positions.accept(batch).values() for r in rs]
            return Fetched(records, self._generation, positions.release(records))

        def caught_up(tp: TopicPartition) -> bool:
            highwater = consumer.highwater(tp)
            fetched_to = positions.fetched_to(tp.partition)
            return highwater is not None and fetched_to is not None and fetched_to >= highwater

        # The merge releases only as far as every partition has been fetched; keep fetching
        # (briefly) so that a batch is not cut short each time one partition's buffer empties.
        fetched = Fetched([], self._generation, {})
        deadline = asyncio.get_running_loop().time() + 0.25
        while len(fetched.records) < limit:
            batch = await consumer.getmany(timeout_ms=50, max_records=limit)
            if self._generation != fetched.generation:
                # A seek settled while we waited: what was gathered before it is read again.
                fetched = Fetched([], self._generation, {})
            self._merge.add(positions.accept(batch))
            settled = [tp for tp in consumer.assignment() if positions.settled(tp.partition)]
            released = self._merge.release(settled, caught_up, limit - len(fetched.records))
            for partition, start in positions.release(released).items():
                fetched.starts.setdefault(partition, start)
            fetched.records.extend(released)
            if not batch or asyncio.get_running_loop().time() > deadline:
                break
        return fetched

    def _invalidate(self) -> None:
        """Whatever was fetched, merged or prepared is void: a seek comes next."""
        self._generation += 1
        self._positions.unsettle()
        self._merge.reset()
        reset = getattr(self.view, "reset", None)
        if reset is not None:
            reset()

    async def _settle(self, *, again: bool = False) -> None:
        """Position every assigned partition not yet positioned (``again``: every assigned
        partition) at its stored offset."""
        consumer = self._started(self._consumer)
        async with self._seek_lock:
            tps = [tp for tp in consumer.assignment() if tp.topic == self.config.topic]
            if not again and not self._positions.unsettled(tp.partition for tp in tps):
                return
            self._invalidate()
            stored = await checkpoints.stored_offsets(self.pool, self.name, self.config.topic)
            await check_within_log(
                self.config.bootstrap_servers,
                self.name,
                self.config.topic,
                {tp.partition: stored[tp.partition] for tp in tps if tp.partition in stored},
            )
            unread = [tp for tp in tps if tp.partition not in stored]
            beginnings = await consumer.beginning_offsets(unread) if unread else {}
            if set(consumer.assignment()) != set(tps):
                return  # reassigned meanwhile: settle again
            # Each seek and its settling with no ``await`` between them: a ``getmany`` running
            # meanwhile could hand out records fetched at the new position, and drop them.
            offsets = {}
            for tp in tps:
                offset = stored.get(tp.partition)
                offsets[tp.partition] = offset if offset is not None else beginnings[tp]
                consumer.seek(tp, offsets[tp.partition])
                self._positions.settle(tp.partition, offsets[tp.partition])
        log.info("runner_positioned", consumer=self.name, offsets=offsets)

    # --- one batch -------------------------------------------------------------------

    async def apply_batch(self, records: Sequence[Record]) -> None:
        """Apply records of any partitions of ``topic`` in one transaction."""
        await self.commit_batch(await self.prepare_batch(records))

    async def prepare_batch(
        self,
        records: Sequence[Record],
        generation: int | None = None,
        starts: Mapping[int, int] | None = None,
    ) -> PreparedBatch:
        """Decode a batch (CPU only; runs while the previous batch is being written).
        ``generation``: the runner's when the records were fetched (a seek since drops them);
        ``starts``: the offset each partition's records start from (checked at commit)."""
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
        return PreparedBatch(generation, records, starts, decoded, letters, changes)

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
            # Both ends: nothing below the stored offset is applied again (another worker
            # applied it), and nothing between it and the batch's first record is skipped.
            gaps = {
                p: (start, stored[p])
                for p, start in (batch.starts or {}).items()
                if start > stored.get(p, start)
            }
            if gaps:
                raise PositionGap(f"{self.name}: batch starts past the stored offsets: {gaps}")

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
        # Bounded drain: let the batch in flight commit before giving the partitions up;
        # nothing fetched so far is applied after that.
        async with (
            asyncio.timeout(self.runner.config.revoke_drain_timeout),
            self.runner._batch_lock,
        ):
            self.runner._invalidate()
            log.info(
                "partitions_revoked",
                consumer=self.runner.name,
                partitions=sorted(tp.partition for tp in revoked),
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # aiokafka is already fetching (from offset 0 for a new group): nothing passes the
        # runner's gate until this seek settles. If it fails (database down), the runner's
        # loop settles the partitions itself once it can.
        try:
            await self.runner._settle(again=True)
        except _TRANSIENT_ERRORS as exc:
            log.warning("positioning_deferred", consumer=self.runner.name, error=repr(exc))
