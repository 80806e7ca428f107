"""Produce the archived topics back into a fresh embedded broker, offsets and all.

Each partition's records go back in their order, in batches, with their key, value,
timestamp and headers; a fresh broker numbers them from 0, so every record lands at
the offset it had — which the stages' stored offsets in PostgreSQL point into. The
result is checked against the archive (each partition's high watermark equals its
record count) before anything else may use the broker.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from touchlog.log_archive import ArchiveError, LogArchive
from touchlog.log_tail import high_watermarks

log = structlog.get_logger()

BATCH_BYTES = 512 * 1024  # per partition per request; ~50 partitions make one request
PROGRESS_EVERY = 2.0  # seconds between progress lines of a long restore


class RestoreRefused(ArchiveError):
    """The broker does not hold exactly the archive's records where they belong."""


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = self.reported = time.monotonic()

    def add(self, records: int) -> None:
        self.done += records
        now = time.monotonic()
        if now - self.reported >= PROGRESS_EVERY:
            self.reported = now
            log.info("log_restore_progress", **self.figures())

    def figures(self) -> dict[str, float]:
        seconds = time.monotonic() - self.started
        return {
            "records": self.done,
            "total": self.total,
            "seconds": round(seconds, 1),
            "records_per_s": round(self.done / seconds) if seconds else 0,
        }


async def restore(archive: LogArchive, bootstrap_servers: str) -> int:
    """Recreate the archived topics and their records; the number of records restored.

    Raises ``RestoreRefused`` when a topic holds records already (not a fresh broker) or
    when the result differs from the archive."""
    topics = archive.topics()
    counts = {
        TopicPartition(topic, p): archive.next_offset((topic, p))
        for topic, partitions in topics.items()
        for p in range(partitions)
    }
    if not counts:
        return 0
    await _create_topics(bootstrap_servers, topics)
    occupied = {
        tp: n
        for tp, n in (await high_watermarks(bootstrap_servers, dict.fromkeys(counts, 0))).items()
        if n
    }
    if occupied:
        raise RestoreRefused(
            f"the broker at {bootstrap_servers} already holds records "
            f"({_describe(occupied)}): the archive restores only into a fresh embedded broker"
        )
    progress = _Progress(sum(counts.values()))
    log.info("log_restore_started", topics=len(topics), total=progress.total)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id="touchlog-log-restore",
        acks="all",
        enable_idempotence=False,  # the embedded broker rejects InitProducerId
        max_batch_size=BATCH_BYTES,
        linger_ms=0,
    )
    await producer.start()
    try:
        await asyncio.gather(
            *(_restore_partition(producer, archive, tp, progress) for tp, n in counts.items() if n)
        )
    finally:
        await producer.stop()
    landed = await high_watermarks(bootstrap_servers, counts)
    if wrong := {tp: n for tp, n in landed.items() if n != counts[tp]}:
        raise RestoreRefused(
            "the restored broker does not match the archive (partition: archived → "
            "broker's high watermark): "
            + ", ".join(
                f"{tp.topic}[{tp.partition}]: {counts[tp]} → {n}" for tp, n in wrong.items()
            )
        )
    log.info("log_restored", topics=len(topics), **progress.figures())
    return progress.done


async def _create_topics(bootstrap_servers: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="touchlog-log-restore"
    )
    await admin.start()
    try:
        # Only names the broker lists: it creates a topic (4 partitions) that a metadata
        # request names.
        listed = [t for t in await admin.list_topics() if t in topics]
        existing = {
            t["topic"]: len(t["partitions"])
            for t in (await admin.describe_topics(listed) if listed else [])
        }
        if wrong := {t: n for t, n in existing.items() if n != topics[t]}:
            raise RestoreRefused(
                "topics exist with other partition counts than archived: "
                + ", ".join(f"{t} has {n}, archived {topics[t]}" for t, n in wrong.items())
            )
        if missing := [NewTopic(t, n, 1) for t, n in topics.items() if t not in existing]:
            await admin.create_topics(missing)
    finally:
        await admin.close()


async def _restore_partition(
    producer: AIOKafkaProducer, archive: LogArchive, tp: TopicPartition, progress: _Progress
) -> None:
    """One partition's records in order: one batch in flight at a time per partition
    (the producer sends the next once the previous has left)."""
    sent: list[asyncio.Future[object]] = []

    async def send(batch: object, records: int) -> None:
        future = await producer.send_batch(batch, tp.topic, partition=tp.partition)

        def acknowledged(done: asyncio.Future[object]) -> None:
            if not done.cancelled() and done.exception() is None:
                progress.add(records)

        future.add_done_callback(acknowledged)
        sent.append(future)

    batch = producer.create_batch()
    for record in archive.records((tp.topic, tp.partition)):
        fields = {
            "timestamp": record.timestamp,
            "key": record.key,
            "value": record.value,
            "headers": list(record.headers),
        }
        if batch.append(**fields) is None:  # full: send it, start the next with this record
            await send(batch, batch.record_count())
            batch = producer.create_batch()
            batch.append(**fields)
    if batch.record_count():
        await send(batch, batch.record_count())
    await asyncio.gather(*sent)


def _describe(counts: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]: {n}" for tp, n in sorted(counts.items()))
