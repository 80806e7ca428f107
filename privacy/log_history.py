"""Facts only the log holds: the identity graph's own events about a customer.

The timeline leaves out the identity graph's bookkeeping (links, unlinks, merges, splits,
rejected merges), and the graph's tables keep only part of what those events state. An
export reads them from ``touchlog.resolved`` (keyed by customer id: records of other
customers are skipped undecoded), opens them with an ``Opener`` (an erased field reads
``[erased]``) and decodes them leniently.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.log_check import high_watermarks
from events.codec import InvalidEvent
from events.touchpoints.identity import TYPES as IDENTITY_TYPES
from privacy.sealing import Opened, Opener, lenient_touchpoint

IDENTITY = frozenset(cls.type_name() for cls in IDENTITY_TYPES)


async def identity_history(
    bootstrap_servers: str,
    topic: str,
    customer_ids: Collection[str],
    opener: Opener,
    *,
    security: Mapping[str, Any] | None = None,
    within: float = 60.0,
) -> list[dict[str, Any]]:
    """The identity events of these customers on ``topic``, oldest first, as JSON."""
    wanted = {c.encode() for c in customer_ids}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="touchlog-export",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **dict(security or {}),
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        ends = await high_watermarks(
            bootstrap_servers, dict.fromkeys(partitions, 0), security=security
        )
        todo = {tp: end for tp, end in ends.items() if end}
        if not todo:
            return []
        consumer.assign(list(todo))
        await consumer.seek_to_beginning(*todo)
        values: list[bytes] = []
        while todo:
            batch = await consumer.getmany(timeout_ms=int(within * 1000), max_records=5000)
            if not batch:
                raise TimeoutError(f"reading {topic}: no records within {within}s")
            for tp, records in batch.items():
                values += [r.value for r in records if r.key in wanted and r.value]
                if records and records[-1].offset + 1 >= todo.get(tp, 0):
                    todo.pop(tp, None)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    found = []
    for opened in await opener.open_many(values):
        if not isinstance(opened, Opened):
            continue  # unreadable records are the dead letters' business, not an export's
        event = msgspec.json.decode(opened.value).get("event", {})
        if event.get("type") not in IDENTITY:
            continue
        try:
            decoded = lenient_touchpoint(event)
        except InvalidEvent:
            continue
        found.append(
            {
                "type": decoded.type,
                "occurred_at": decoded.occurred_at.isoformat(),
                "source_system": decoded.source.system,
                "message_id": decoded.message_id,
                "payload": decoded.payload.model_dump(
                    mode="json", exclude_none=True, warnings=False
                ),
            }
        )
    return sorted(found, key=lambda e: (e["occurred_at"], e["message_id"]))
