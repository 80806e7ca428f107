"""The log is checked before it is read: no stored offset may lie beyond its partition's end.

A view's stored offsets outlive the log when the log is lost or recreated (a new
embedded broker, a topic deleted and created again). New records would then land
below the stored offsets and be skipped without a word (DESIGN.md, pitfall 8). The
end is the high watermark of a fetch response — on the embedded broker ListOffsets
(aiokafka's ``end_offsets``) undercounts when records arrive in batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError, OffsetOutOfRangeError

from consumers.ports import LogReader

RESET_HINT = (
    "Nothing was read or skipped. Restore the log, or start again from an empty state with "
    "`touchlog reset` (every view is rebuilt from the log)."
)


class StoredOffsetsBeyondLog(Exception):  # the message says what happened and what to run
    """A stage's stored offsets point past the end of the log it reads."""

    def __init__(self, consumer: str, topic: str, beyond: Mapping[int, tuple[int, int | None]]):
        self.consumer, self.topic, self.beyond = consumer, topic, dict(beyond)
        where = ", ".join(
            f"partition {p}: stored {stored}, log ends at "
            + ("an earlier offset" if end is None else str(end))
            for p, (stored, end) in sorted(beyond.items())
        )
        super().__init__(
            f"{consumer} has applied {topic} further than the log now goes ({where}): the "
            f"log was lost or recreated while the views were kept. {RESET_HINT}"
        )


def log_probe(
    bootstrap_servers: str, security: Mapping[str, Any] | None = None
) -> AIOKafkaConsumer:
    """A consumer that asks where a log ends: no commits, no reset (a position out of
    range is an answer), short fetches of little data."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="none",
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=64 * 1024,
        **(security or {}),
    )


async def high_watermarks(
    bootstrap_servers: str,
    positions: Mapping[TopicPartition, int],
    wait_s: float = 15.0,
    *,
    security: Mapping[str, Any] | None = None,
) -> dict[TopicPartition, int | None]:
    """Each partition's high watermark, from a fetch at the given position (None: the
    broker says the position is out of the log's range)."""
    probe = log_probe(bootstrap_servers, security)
    await probe.start()
    try:
        probe.assign(list(positions))
        for tp, offset in positions.items():
            probe.seek(tp, offset)
        found: dict[TopicPartition, int | None] = {}
        async with asyncio.timeout(wait_s):
            while len(found) < len(positions):
                try:
                    await probe.getmany(timeout_ms=100, max_records=1)
                except OffsetOutOfRangeError as exc:
                    found |= dict.fromkeys(exc.args[0] if exc.args else (), None)
                for tp in positions:
                    if tp not in found and (highwater := probe.highwater(tp)) is not None:
                        found[tp] = highwater
    except TimeoutError as exc:
        raise KafkaTimeoutError(f"no fetch response within {wait_s}s") from exc
    finally:
        await probe.stop()
    return found


async def check_within_log(
    log: LogReader, consumer: str, topic: str, stored: Mapping[int, int]
) -> None:
    """Raise ``StoredOffsetsBeyondLog`` if a stored offset is past its partition's end."""
    positions = {TopicPartition(topic, p): o for p, o in stored.items() if o > 0}
    if not positions:
        return
    ends = await log.log_ends(positions)
    beyond = {
        tp.partition: (positions[tp], end)
        for tp, end in ends.items()
        if end is None or end < positions[tp]
    }
    if beyond:
        raise StoredOffsetsBeyondLog(consumer, topic, beyond)
