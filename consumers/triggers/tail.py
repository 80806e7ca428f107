"""The trigger ids most recently published, read back after a restart.

The worker sends a trigger *before* saving the state that remembers it, so a
crash in between never loses one; the state restored from the changelog may
then not know a trigger it already sent. Those triggers are the last ones in
their partition of the output topics (same key, same partition as the state),
so reading the tail of each partition back when the worker starts tells it
which decisions not to publish again. (Read before faust starts: a second
aiokafka client in faust's recovery callback stalled the stream on the
embedded broker. A partition taken over from a crashed peer in a running
worker is not read back; its consumers deduplicate by ``trigger_id``.)

Reads go by the high watermark: the embedded broker answers ListOffsets with
the last batch's base offset + 1, not the end of the partition.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

FETCH_DEADLINE = 30.0


async def published_trigger_ids(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: Iterable[int],
    tail: int,
    security: Mapping[str, Any] | None = None,
) -> set[str]:
    """Ids of the last ``tail`` records of each partition of ``topics``."""
    return await published_ids(bootstrap_servers, topics, partitions, tail, "trigger_id", security)


async def published_ids(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: Iterable[int],
    tail: int,
    field: str,
    security: Mapping[str, Any] | None = None,
) -> set[str]:
    """The ``field`` of each of the last ``tail`` records (JSON objects) of each partition
    of ``topics``: what a publisher that sends before it commits may have sent already."""
    tps = [TopicPartition(t, p) for t in topics for p in partitions]
    if not tps:
        return set()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(security or {})
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)  # near the end; a fetch tells the real one
        deadline = asyncio.get_running_loop().time() + FETCH_DEADLINE
        while any(consumer.highwater(tp) is None for tp in tps):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no high watermark for {tps} in {FETCH_DEADLINE}s")
            await consumer.getmany(*tps, timeout_ms=200)
        ends = {tp: consumer.highwater(tp) or 0 for tp in tps}
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - tail))
        ids: set[str] = set()
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for records in batches.values():
                ids.update(json.loads(r.value)[field] for r in records if r.value)
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return ids
    finally:
        await consumer.stop()
