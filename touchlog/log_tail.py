"""Copy every topic of the embedded broker into the log archive, as records arrive.

``follow`` runs beside ``touchlog up`` (lag: about one fetch wait); ``catch_up``
copies up to the high watermark of every partition and returns — at a graceful
stop, and from a broker a SIGKILLed ``touchlog up`` left running. Only the high
watermark of a fetch response counts as "the end" here: the embedded broker's
ListOffsets (``end_offsets``) undercounts (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, KafkaTimeoutError, OffsetOutOfRangeError

from consumers import log_check
from touchlog.log_archive import ArchiveError, LogArchive
from touchlog.log_records import ArchivedRecord

log = structlog.get_logger()

FETCH_WAIT_MS = 50  # the tail's lag when records trickle in
DISCOVER_EVERY = 1.0  # seconds between looks for new topics (faust creates its own)


@contextlib.asynccontextmanager
async def _consumer(bootstrap_servers: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="touchlog-log-archive",
        group_id=None,  # assigned partitions, no group: nothing to join, nothing to commit
        enable_auto_commit=False,
        auto_offset_reset="none",  # a position past the end is an error, never a silent jump
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


class _Copier:
    """One consumer on every (non-internal) topic of a broker, each partition positioned
    at the archive's end."""

    def __init__(self, archive: LogArchive, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient):
        self.archive = archive
        self.consumer = consumer
        self.admin = admin
        self.assigned: set[TopicPartition] = set()

    async def discover(self) -> None:
        names = [n for n in await self.admin.list_topics() if not n.startswith("__")]
        wanted: set[TopicPartition] = set()
        for topic in await self.admin.describe_topics(names) if names else []:
            partitions = [p["partition"] for p in topic["partitions"]]
            if topic["error_code"] or not partitions:
                continue  # being created: next round
            self.archive.add_topic(topic["topic"], max(partitions) + 1)
            wanted |= {TopicPartition(topic["topic"], p) for p in partitions}
        if wanted - self.assigned:
            self.consumer.assign(sorted(wanted))  # replaces the assignment: seek all again
            for tp in wanted:
                self.consumer.seek(tp, self.archive.next_offset((tp.topic, tp.partition)))
            self.assigned = wanted

    async def copy(self, timeout_ms: int) -> int:
        """Archive what one fetch brings; the number of records appended."""
        try:
            fetched = await self.consumer.getmany(timeout_ms=timeout_ms)
        except OffsetOutOfRangeError as exc:
            raise ArchiveError(
                f"the broker holds fewer records than the archive in {exc.args[0]}: "
                "not the broker this archive was made from"
            ) from exc
        if not fetched:
            return 0
        batches = {
            (tp.topic, tp.partition): [
                ArchivedRecord(
                    r.offset, r.timestamp, r.timestamp_type, r.key, r.value, tuple(r.headers)
                )
                for r in records
            ]
            for tp, records in fetched.items()
        }
        # Appends fsync: off the event loop, which serves the API and the stages meanwhile.
        return await asyncio.to_thread(self.archive.append, batches)

    def behind(self) -> dict[TopicPartition, int | None]:
        """Partitions short of their high watermark: records missing (None: not fetched yet)."""
        missing: dict[TopicPartition, int | None] = {}
        for tp in self.assigned:
            highwater = self.consumer.highwater(tp)
            archived = self.archive.next_offset((tp.topic, tp.partition))
            if highwater is None or archived < highwater:
                missing[tp] = None if highwater is None else highwater - archived
            elif archived > highwater:
                raise ArchiveError(
                    f"{tp.topic}[{tp.partition}]: the broker ends at {highwater}, the archive at "
                    f"{archived}: not the broker this archive was made from"
                )
        return missing


@contextlib.asynccontextmanager
async def _copier(archive: LogArchive, bootstrap_servers: str) -> AsyncIterator[_Copier]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="touchlog-log-archive"
    )
    await admin.start()
    try:
        async with _consumer(bootstrap_servers) as consumer:
            copier = _Copier(archive, consumer, admin)
            await copier.discover()
            yield copier
    finally:
        await admin.close()


async def follow(archive: LogArchive, bootstrap_servers: str, stop: asyncio.Event) -> None:
    """Archive records as they arrive, until ``stop``.

    The broker unreachable for a while only delays the copy (it holds the records);
    an ``ArchiveError`` or a disk error ends it — the caller stops ``touchlog up``, which
    would otherwise acknowledge records the next start could not restore."""
    async with _copier(archive, bootstrap_servers) as copier:
        log.info("log_archive_following", topics=len({tp.topic for tp in copier.assigned}))
        discovered = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() - discovered > DISCOVER_EVERY:
                    await copier.discover()
                    discovered = time.monotonic()
                if copier.assigned:
                    await copier.copy(timeout_ms=200)
                    continue
            except KafkaError as exc:
                log.warning("log_archive_retrying", error=repr(exc), retry_in_s=DISCOVER_EVERY)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DISCOVER_EVERY)


async def catch_up(archive: LogArchive, bootstrap_servers: str, *, within: float) -> int:
    """Archive every partition up to its high watermark; the number of records appended.

    A fresh consumer: every high watermark it knows comes from a fetch sent after this
    call began, so "caught up" covers each record acknowledged before it."""
    started = time.monotonic()
    copied = 0
    async with _copier(archive, bootstrap_servers) as copier:
        while behind := copier.behind():
            if time.monotonic() - started > within:
                missing = sum(n or 0 for n in behind.values())
                raise ArchiveError(
                    f"archive not caught up after {within:.0f}s: {missing} records of "
                    f"{len(behind)} partitions not archived"
                )
            copied += await copier.copy(timeout_ms=100)
    log.info(
        "log_archive_caught_up",
        bootstrap_servers=bootstrap_servers,
        records=copied,
        archived=archive.record_count(),
        seconds=round(time.monotonic() - started, 3),
    )
    return copied


async def high_watermarks(
    bootstrap_servers: str, archived: Mapping[TopicPartition, int], *, within: float = 30.0
) -> dict[TopicPartition, int]:
    """Each partition's high watermark, read from fetch responses: positioned at the
    archived count's last record, a fetch carries at most one record besides it. A
    partition holding fewer records than archived is read from its start."""
    try:
        at = {tp: max(count - 1, 0) for tp, count in archived.items()}
        found = await log_check.high_watermarks(bootstrap_servers, at, within)
        short = {tp: 0 for tp, end in found.items() if end is None}
        if short:
            found |= await log_check.high_watermarks(bootstrap_servers, short, within)
    except KafkaTimeoutError:
        raise ArchiveError(f"no high watermark from {bootstrap_servers} in {within}s") from None
    return {tp: end or 0 for tp, end in found.items()}


async def records_in(bootstrap_servers: str, topic: str) -> int:
    """How many records ``topic`` holds, by high watermarks; 0 if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="touchlog-admin")
    await admin.start()
    try:
        if topic not in await admin.list_topics():  # a metadata request would create it
            return 0
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    return sum((await high_watermarks(bootstrap_servers, dict.fromkeys(partitions, 0))).values())
