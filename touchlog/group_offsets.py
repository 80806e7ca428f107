"""Consumer groups' committed offsets, kept beside the log archive.

The embedded broker keeps these in memory too. The stages keep their positions in
PostgreSQL (Kafka-side commits are informational), but the faust triggers app resumes
from its group's commits: without them it would re-read every input from offset 0 after
each restart — harmless, its state skips what it has applied, but slow, and every
replayed event rewrites the app's changelog, which grows by its whole history per restart.

Taken at a stop *before* the archive's last catch-up, so a commit never points past the
records (the changelog included) archived with it; an older snapshot only means a
longer replay.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from touchlog.log_archive import LogArchive

log = structlog.get_logger()

FILE = "group_offsets.json"

Snapshot = dict[str, dict[str, int]]  # group → "topic/partition" → next offset


@contextlib.asynccontextmanager
async def _member_of(bootstrap_servers: str, group: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of ``group`` that never joins it: it reads and writes commits only."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="touchlog-log-archive",
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def _partitions(archive: LogArchive) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t, n in archive.topics().items() for p in range(n)]


async def snapshot(archive: LogArchive, bootstrap_servers: str) -> None:
    """Save every group's committed offsets on the archived topics."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="touchlog-log-archive"
    )
    await admin.start()
    try:
        groups = sorted(group for group, _ in await admin.list_consumer_groups())
    finally:
        await admin.close()
    taken: Snapshot = {}
    for group in groups:
        async with _member_of(bootstrap_servers, group) as consumer:
            consumer.assign(_partitions(archive))
            for tp in _partitions(archive):
                if (offset := await consumer.committed(tp)) is not None:
                    taken.setdefault(group, {})[f"{tp.topic}/{tp.partition}"] = offset
    staged = archive.root / f"{FILE}.new"
    with staged.open("w") as out:
        json.dump(taken, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    staged.replace(archive.root / FILE)
    log.info("group_offsets_saved", groups=sorted(taken))


async def restore_commits(archive: LogArchive, bootstrap_servers: str) -> None:
    """Commit the saved offsets into a freshly restored broker."""
    path = archive.root / FILE
    if not path.exists():
        return
    saved: Snapshot = json.loads(path.read_text())
    for group, offsets in saved.items():
        commits = {}
        for name, offset in offsets.items():
            topic, _, partition = name.rpartition("/")
            tp = TopicPartition(topic, int(partition))
            if offset > archive.next_offset((topic, tp.partition)):
                # Past the records archived: the group re-reads this partition from its
                # reset policy rather than skip what it never applied for good.
                log.warning("group_offset_beyond_archive", group=group, topic=topic, offset=offset)
                continue
            commits[tp] = OffsetAndMetadata(offset, "")
        if commits:
            async with _member_of(bootstrap_servers, group) as consumer:
                consumer.assign(list(commits))
                await consumer.commit(commits)
    log.info("group_offsets_restored", groups=sorted(saved))
