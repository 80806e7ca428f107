"""Reading a whole topic back in tests; publishing events in an order the resolver keeps.

Measured quirk of the embedded broker: ListOffsets(latest) — aiokafka's
``end_offsets`` — answers the last *batch's* base offset + 1, not the partition's
end (5 records sent in one batch → 1). The high watermark in fetch responses is
right, so reads go by ``highwater``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from events import Touchpoint
from producers import Publisher


async def publish_in_order(
    bootstrap: str, topic: str, events: Sequence[Touchpoint | Mapping[str, Any]]
) -> None:
    """Publish so that the resolver reads ``events`` in this order, across partitions too.

    For tests whose outcome depends on which event comes first (which creates a customer,
    which merges): sent together without ``in_order``, records share a millisecond and a
    tie goes by partition."""
    async with Publisher(bootstrap, topic=topic, idempotence=False) as publisher:
        await publisher.publish_many(events, in_order=True)


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
