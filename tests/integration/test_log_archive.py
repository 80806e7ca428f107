"""The embedded broker's log archive: records copied off one broker and produced back into
a fresh one come back identical — partition, offset, timestamp, key, value, headers.

Each test starts its own brokers: the archive copies every topic of the broker it reads.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from structlog.testing import capture_logs

from tests.integration.kafka_support import read_topic
from touchlog import bootstrap, embedded, group_offsets
from touchlog.durable_broker import archive_lock
from touchlog.kafka_admin import ensure_topics
from touchlog.log_archive import ArchiveError, ArchiveGap, LogArchive, exclusive
from touchlog.log_records import ArchivedRecord
from touchlog.log_restore import RestoreRefused, restore
from touchlog.log_tail import catch_up, follow
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

TOPICS = {"orders": 3, "changelog": 2, "empty": 2}
HEADERS = [
    (),
    (("type", b"call.logged"), ("schema_version", b"2")),
    (("trace", None), ("trace", b""), ("naïve-name", b"\x00\xff")),
]


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[embedded.EmbeddedBroker, embedded.EmbeddedBroker]]:
    """A broker to archive and a fresh one to restore into."""
    source = embedded.start_broker(log_file=tmp_path / "source.log")
    try:
        target = embedded.start_broker(log_file=tmp_path / "target.log")
    except BaseException:
        source.stop()
        raise
    yield source, target
    source.stop()
    target.stop()


def _fields(record: ConsumerRecord) -> tuple:
    """Everything a restore must keep, in comparable form."""
    return (
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        record.value,
        tuple(record.headers),
    )


async def _everything(bootstrap: str) -> list[tuple]:
    records = []
    for topic, partitions in TOPICS.items():
        records += [_fields(r) for r in await read_topic(bootstrap, topic, partitions)]
    return sorted(records, key=lambda r: r[:3])


async def _produce(bootstrap: str, count: int, seed: int) -> None:
    """Keys (and none), tombstones, headers, timestamps out of order, in multi-record batches."""
    rng = random.Random(seed)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=20
    )
    await producer.start()
    try:
        sent = []
        for i in range(count):
            topic = "orders" if i % 4 else "changelog"
            key = None if i % 7 == 0 else f"customer-{rng.randrange(50)}".encode()
            value = None if key is not None and i % 11 == 0 else rng.randbytes(rng.randrange(900))
            sent.append(
                await producer.send(
                    topic,
                    value,
                    key=key,
                    partition=rng.randrange(TOPICS[topic]),
                    timestamp_ms=1_767_225_600_000 + rng.randrange(-86_400_000, 86_400_000),
                    headers=list(HEADERS[i % len(HEADERS)]),
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_a_restored_broker_holds_every_record_at_its_partition_and_offset(
    brokers: tuple[embedded.EmbeddedBroker, embedded.EmbeddedBroker], tmp_path: Path
) -> None:
    source, target = brokers
    await _topics(source.bootstrap_servers)
    with LogArchive.open(tmp_path / "log") as archive:
        stop = asyncio.Event()
        tail = asyncio.create_task(follow(archive, source.bootstrap_servers, stop))
        await _produce(source.bootstrap_servers, 3_000, seed=1)  # while the tail follows
        stop.set()
        await tail
        await _produce(source.bootstrap_servers, 2_000, seed=2)  # after: the catch-up copies them
        await catch_up(archive, source.bootstrap_servers, within=30)
    original = await _everything(source.bootstrap_servers)
    assert len(original) == 5_000

    with LogArchive.open(tmp_path / "log") as reopened:
        assert reopened.record_count() == 5_000
        assert await restore(reopened, target.bootstrap_servers) == 5_000

    assert await _everything(target.bootstrap_servers) == original
    admin = AIOKafkaAdminClient(bootstrap_servers=target.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == TOPICS


async def test_a_restore_into_a_broker_that_holds_records_is_refused(
    brokers: tuple[embedded.EmbeddedBroker, embedded.EmbeddedBroker], tmp_path: Path
) -> None:
    source, target = brokers
    await _topics(source.bootstrap_servers)
    await _produce(source.bootstrap_servers, 300, seed=3)
    with LogArchive.open(tmp_path / "log") as archive:
        await catch_up(archive, source.bootstrap_servers, within=30)

        with pytest.raises(RestoreRefused, match=r"already holds records \(.*orders\[\d\]: \d+"):
            await restore(archive, source.bootstrap_servers)  # the very broker it came from
        assert len(await _everything(source.bootstrap_servers)) == 300, "nothing produced twice"

        # Nor may the archive follow a broker holding fewer records than it has.
        await _topics(target.bootstrap_servers)
        with pytest.raises(ArchiveError, match=r"fewer records than the archive|ends at 0"):
            await catch_up(archive, target.bootstrap_servers, within=30)


async def test_consumer_groups_commits_come_back_with_the_log(
    brokers: tuple[embedded.EmbeddedBroker, embedded.EmbeddedBroker], tmp_path: Path
) -> None:
    """The faust triggers app resumes from its group's commits (the broker keeps them in
    memory too); one beyond the archived records is not restored."""
    source, target = brokers
    await _topics(source.bootstrap_servers)
    await _produce(source.bootstrap_servers, 400, seed=4)
    orders = [TopicPartition("orders", p) for p in range(TOPICS["orders"])]
    with LogArchive.open(tmp_path / "log") as archive:
        await catch_up(archive, source.bootstrap_servers, within=30)
        ends = [archive.next_offset(("orders", p)) for p in range(TOPICS["orders"])]
        commits = {orders[0]: ends[0], orders[1]: ends[1] // 2, orders[2]: ends[2] + 5}
        await _commit(source.bootstrap_servers, "touchlog-triggers", commits)
        await group_offsets.snapshot(archive, source.bootstrap_servers)

        await restore(archive, target.bootstrap_servers)
        with capture_logs() as logs:
            await group_offsets.restore_commits(archive, target.bootstrap_servers)
    assert await _committed(target.bootstrap_servers, "touchlog-triggers", orders) == [
        ends[0],
        ends[1] // 2,
        None,
    ]
    assert [e["event"] for e in logs] == ["group_offset_beyond_archive", "group_offsets_restored"]


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(n, "") for tp, n in offsets.items()})
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> list[int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(tps)
        return [await consumer.committed(tp) for tp in tps]
    finally:
        await consumer.stop()


async def test_up_on_a_configured_kafka_archives_nothing(
    broker: embedded.EmbeddedBroker, database_url: str, unique: str, tmp_path: Path
) -> None:
    """A real Kafka keeps its log: ``touchlog up``'s infrastructure copies nothing."""
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        database_url=database_url,
        data_dir=tmp_path,
        topic_touchpoints=f"test.{unique}.touchpoints",
        topic_resolved=f"test.{unique}.resolved",
        topic_deadletter=f"test.{unique}.deadletter",
        topic_triggers=f"test.{unique}.triggers",
        topic_triggers_suppressed=f"test.{unique}.suppressed",
        topic_trigger_commands=f"test.{unique}.commands",
    )
    async with bootstrap.infrastructure(settings) as endpoints:
        assert endpoints.bootstrap_servers == broker.bootstrap_servers
        await _produce_to(broker.bootstrap_servers, settings.topic_touchpoints)
    assert not (tmp_path / "log").exists()
    assert not (tmp_path / "broker.json").exists()


async def test_a_second_up_on_the_same_data_dir_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(kafka_bootstrap_servers=None, database_url=database_url, data_dir=tmp_path)
    with exclusive(archive_lock(tmp_path)), pytest.raises(SystemExit, match="held by another"):
        async with bootstrap.infrastructure(settings):
            pass
    assert embedded.recorded_broker(tmp_path) is None, "no broker started"


async def _produce_to(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"an event")
    finally:
        await producer.stop()


async def _topics(bootstrap: str) -> None:
    for topic, partitions in TOPICS.items():
        await ensure_topics(bootstrap, [topic], partitions)


def test_a_torn_last_record_is_cut_and_a_gap_is_refused_loudly(tmp_path: Path) -> None:
    def record(offset: int) -> ArchivedRecord:
        return ArchivedRecord(offset, 1_000 + offset, 0, b"k", b"v" * offset, (("h", b"x"),))

    tp = ("touchlog.touchpoints", 0)
    with LogArchive.open(tmp_path / "log") as archive:
        archive.add_topic("touchlog.touchpoints", 1)
        assert archive.append({tp: [record(0), record(1), record(2)]}) == 3
        assert archive.append({tp: [record(1), record(2), record(3)]}) == 1, "copied: skipped"
    with (tmp_path / "log" / "touchlog.touchpoints" / "0.records").open("ab") as file:
        file.write(b"\x00\x00\x00\x40\x12")  # a kill in the middle of the next append

    with capture_logs() as logs, LogArchive.open(tmp_path / "log") as reopened:
        assert reopened.next_offset(tp) == 4
        assert [r.offset for r in reopened.records(tp)] == [0, 1, 2, 3]
        assert [e["event"] for e in logs] == ["log_archive_torn_tail"]
        logs.clear()

        with pytest.raises(ArchiveGap, match=r"offset 6 follows 4"):
            reopened.append({tp: [record(4), record(6)]})
        assert [(e["event"], e["log_level"], e["expected"]) for e in logs] == [
            ("log_archive_gap", "error", 5)
        ]
        assert reopened.next_offset(tp) == 5, "the records before the gap are kept"
    with LogArchive.open(tmp_path / "log") as again:
        assert [r.offset for r in again.records(tp)] == [0, 1, 2, 3, 4]
