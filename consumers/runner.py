"""The projection runner: the log in, one transaction per batch out.

Each batch's view changes, its dead letters and the *next* offset of every
partition it read are committed in one transaction ("storing offsets outside
Kafka"). On start and on every assignment the consumer seeks to the stored
offsets, so a crash at any moment neither loses nor doubles an effect:
whatever was not committed is read again, and views are idempotent anyway.

Fencing: the transaction locks the offset rows of the partitions it applies
and drops records below the stored offset, so a worker that still holds
records of a partition revoked from it cannot apply them twice.

The log, the dead-letter log and the checkpoint store are ports (``consumers/ports.py``),
wired in ``touchlog/bootstrap.py``: Kafka and PostgreSQL there, memory in unit tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from consumers import metrics
from consumers.deadletter import DeadLetter
from consumers.log_check import check_within_log
from consumers.ordering import TimestampMerge
from consumers.outage import OUTAGE_TOLERANCE_S, Outage
from consumers.ports import (
    CheckpointStore,
    Errors,
    LogReader,
    LogWriter,
    Record,
    TopicPartition,
)
from consumers.positions import Positions
from consumers.view import Unapplicable, View
from events import InvalidEvent
from events.codec import TOUCHPOINTS, Codec

log = structlog.get_logger()


class PositionGap(Exception):  # a reason to reposition, like a lost connection
    """A batch would not start where the view's stored offset says: reposition and retry."""


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """A stage's settings. ``bootstrap_servers``, ``group_id`` and ``idempotence`` are the
    Kafka adapters' (``touchlog.bootstrap.projection_runner`` builds them from these)."""

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
    kafka_security: Mapping[str, Any] | None = None
    """TLS / SASL options of the Kafka clients (``touchlog.kafka_security``)."""


Tx = TypeVar("Tx")


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


class ProjectionRunner(Generic[Tx]):
    """Applies ``topic`` to one view, exactly-once in effect."""

    def __init__(
        self,
        config: RunnerConfig,
        view: View[Tx],
        store: CheckpointStore[Tx],
        reader: LogReader,
        writer: LogWriter,
        codec: Codec[Any] = TOUCHPOINTS,
    ) -> None:
        self.codec = codec
        self.config = config
        self.view = view
        self.store = store
        self.reader = reader
        self.writer = writer
        self.name = view.name
        # A view may reject a single event (a value out of range for a column, a broken
        # invariant): that event is dead-lettered. An unreachable store or broker is
        # waited out; anything else is a programming error, and surfaces.
        self._rejections: Errors = (Unapplicable, *store.rejections)
        self._outages: Errors = (*store.outages, *reader.outages, *writer.outages, PositionGap)
        self._batch_lock = asyncio.Lock()
        self._generation = 0
        self._merge = TimestampMerge()
        self._positions = Positions()
        self._seek_lock = asyncio.Lock()
        self.applied = 0
        self.dead_lettered = 0

    # --- lifecycle -------------------------------------------------------------------

    async def prepare(self) -> None:
        await self.store.prepare(self.view.schema, self.view.shared_schema)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or forever)."""
        stop = stop or asyncio.Event()
        await self.prepare()
        cfg = self.config
        await self.writer.start()
        await self.reader.start()
        try:
            if cfg.partitions is not None:
                self.reader.assign([TopicPartition(cfg.topic, p) for p in cfg.partitions])
            else:
                self.reader.subscribe(cfg.topic, _SeekOnAssign(self))
            log.info(
                "runner_started",
                consumer=self.name,
                topic=cfg.topic,
                partitions=list(cfg.partitions) if cfg.partitions is not None else "group",
            )
            await self._loop(stop)
        finally:
            await self.reader.stop()
            await self.writer.stop()
            await self.store.close()
            log.info(
                "runner_stopped",
                consumer=self.name,
                applied=self.applied,
                dead_lettered=self.dead_lettered,
            )

    async def _loop(self, stop: asyncio.Event) -> None:
        """A pipeline: batch N is written to the store while batch N+1 is decoded (in the
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
            except self._outages as exc:
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
        consumer = self.reader
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
        self.view.reset()

    async def _settle(self, *, again: bool = False) -> None:
        """Position every assigned partition not yet positioned (``again``: every assigned
        partition) at its stored offset."""
        consumer = self.reader
        async with self._seek_lock:
            tps = [tp for tp in consumer.assignment() if tp.topic == self.config.topic]
            if not again and not self._positions.unsettled(tp.partition for tp in tps):
                return
            self._invalidate()
            stored = await self.store.stored_offsets(self.name, self.config.topic)
            await check_within_log(
                consumer,
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
        outcomes = await self.view.decode(values, self.codec)
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
        store = self.store
        started = time.perf_counter()
        async with self._batch_lock, store.transaction() as tx:
            if batch.generation != self._generation:
                return  # fetched before a seek: those records will be read again
            stored = await store.lock_offsets(
                tx, self.name, self.config.topic, {r.partition for r in records}
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
                async with store.savepoint(tx):
                    await self.view.write(tx, changes)
            except self._rejections as exc:
                letters += await self._isolate(tx, decoded, exc)
            if letters:
                await self._publish_dead_letters(letters)
                await store.record_dead_letters(tx, letters)
            next_offsets: dict[int, int] = defaultdict(int)
            for r in records:
                next_offsets[r.partition] = max(next_offsets[r.partition], r.offset + 1)
            await store.advance(tx, self.name, self.config.topic, next_offsets)
        self.view.committed()
        self.applied += len(records) - len(letters)
        self.dead_lettered += len(letters)
        metrics.observe_batch(
            self.name,
            records,
            decoded,
            ((d.partition, d.offset) for d in letters),
            time.perf_counter() - started,
        )
        metrics.observe_lag(
            self.name, self.config.topic, self.reader.highwater, next_offsets, records
        )
        log.debug(
            "batch_applied",
            consumer=self.name,
            records=len(records),
            dead_letters=len(letters),
            next_offsets=dict(next_offsets),
        )

    async def _isolate(
        self, tx: Tx, decoded: Sequence[tuple[Record, Any]], exc: Exception
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
                async with self.store.savepoint(tx):
                    await self.view.write(tx, self._changes(half))
            except self._rejections as rejected:
                letters += await self._isolate(tx, half, rejected)
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
        await self.writer.publish(
            self.config.deadletter_topic, [(d.kafka_key(), d.to_json()) for d in letters]
        )


class _SeekOnAssign:
    """The runner's rebalance listener (``consumers.ports.Rebalance``)."""

    def __init__(self, runner: ProjectionRunner[Any]) -> None:
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
        except self.runner._outages as exc:
            log.warning("positioning_deferred", consumer=self.runner.name, error=repr(exc))
