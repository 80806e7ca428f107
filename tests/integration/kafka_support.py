"""Reading a whole topic back in tests; publishing events in an order the resolver keeps.

Measured quirk of the embedded broker: ListOffsets(latest) — aiokafka's
``end_offsets`` — answers the last *batch's* base offset + 1, not the partition's
end (5 records sent in one batch → 1). The high watermark in fetch responses is
right, so reads go by ``highwater``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from events import Touchpoint, encode
from producers.publisher import prepare, record_headers


async def publish_in_order(
    bootstrap: str, topic: str, events: Sequence[Touchpoint | Mapping[str, Any]]
) -> None:
    """Publish as the SDK does, but with strictly increasing record timestamps.

    The resolver interleaves partitions by (timestamp, partition, offset). Sent as fast as
    ``Publisher.publish_many`` sends them, several records share a millisecond, and a tie
    goes by partition: a test whose outcome depends on which event comes first (which
    creates a customer, which merges) must say the order in the timestamps."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        start = int(time.time() * 1000)
        for i, given in enumerate(events):
            event = prepare(given)
            await producer.send_and_wait(
                topic,
                encode(event),
                key=event.subject.key().encode(),
                headers=record_headers(event),
                timestamp_ms=start + i,
            )
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, partitions: int = 6
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, read up to each partition's high watermark."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
            pending = [
                tp
                for tp in tps
                if consumer.highwater(tp) is None
                or await consumer.position(tp) < consumer.highwater(tp)
            ]
            if not pending:
                return records
    finally:
        await consumer.stop()
