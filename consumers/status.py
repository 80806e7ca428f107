"""How far behind each stage is, per partition: in events and in time.

The end of the log is the high watermark of a fetch (on the embedded broker ListOffsets
undercounts, DESIGN.md). The lag in time is the age of the oldest unprocessed event: the
timestamp of the record at the stored offset, read from the log (DESIGN.md, pitfall 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from consumers.checkpoints import all_stored_offsets, newest_dead_letter_reasons
from consumers.log_check import log_probe
from projections import versions


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    """As ``touchlog runner --stage`` names it: ``timeline``."""
    consumer: str
    """Its view's name, under which its dead letters are kept, and its offsets in the
    view's version 1 (``timeline_v1``; ``timeline_v1@v2`` in version 2)."""
    topic: str
    versioned: str | None = None
    """The view's name among the versioned views (``touchlog projections``): its offsets
    are read in the live version."""


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    stage: str
    view: str
    topic: str
    partition: int
    stored_offset: int | None
    """The next offset the stage applies; None: it has applied nothing yet."""
    log_end: int | None
    """The high watermark; None: the stored offset is beyond the log, or no fetch answered."""
    lag_events: int | None
    lag_seconds: float | None
    """The age of the oldest unprocessed event; 0 when caught up; None: unknown."""
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _LogPosition:
    end: int | None
    oldest_unprocessed_ms: int | None
    """The timestamp (ms since the epoch) of the first record at or after the position."""


@dataclass(frozen=True, slots=True)
class StageCatalogue:
    """What ``GET /status`` reports on: the stages, and the broker their logs are on."""

    bootstrap_servers: str
    stages: tuple[Stage, ...]
    kafka_security: Mapping[str, Any] | None = None  # TLS / SASL client options


async def stage_status(
    pool: asyncpg.Pool,
    bootstrap_servers: str | None,
    stages: Sequence[Stage] | None = None,
    *,
    now: datetime | None = None,
    wait_s: float = 10.0,
    security: Mapping[str, Any] | None = None,
) -> list[PartitionStatus]:
    """Every stage's status, per partition of its topic (those the broker knows and those
    with a stored offset). With no ``stages``, those with stored offsets (named by their
    view); with no broker, what the database knows (the log's columns unknown)."""
    stored = await all_stored_offsets(pool)
    errors = await newest_dead_letter_reasons(pool)
    if stages is None:
        stages = [Stage(c, c, t) for c, t in sorted({(c, t) for c, t, _ in stored})]
    live = [await _in_live_version(pool, stage) for stage in stages]
    logs = await asyncio.gather(
        *(
            _read_log(bootstrap_servers, stage, stored, wait_s, security)
            if bootstrap_servers
            else _unread(stage, stored)
            for stage in live
        )
    )
    moment = (now or datetime.now(UTC)).timestamp()
    found = []
    for stage, in_live, positions in zip(stages, live, logs, strict=True):
        for partition, position in sorted(positions.items()):
            offset = stored.get((in_live.consumer, in_live.topic, partition))
            # Dead letters are kept under the view's own name, whatever the version.
            error = errors.get((stage.consumer, in_live.topic, partition))
            found.append(_status(in_live, partition, offset, position, error, moment))
    return found


async def _in_live_version(pool: asyncpg.Pool, stage: Stage) -> Stage:
    """The stage, its offsets named as its view's live version keeps them, on the topic
    it reads (a view of resolved: the topic of the identity version it was built from)."""
    if stage.versioned is None:
        return stage
    live = await versions.live_version(pool, stage.versioned)
    if live is None:
        return stage
    identity = await versions.identity_version(pool, stage.versioned, live)
    return replace(
        stage,
        consumer=versions.consumer(stage.consumer, live),
        topic=versions.resolved_topic(stage.topic, identity),
    )


def _status(
    stage: Stage,
    partition: int,
    stored: int | None,
    position: _LogPosition,
    error: str | None,
    moment: float,
) -> PartitionStatus:
    applied = stored or 0
    lag = None if position.end is None else max(position.end - applied, 0)
    if lag == 0:
        age: float | None = 0.0
    elif position.oldest_unprocessed_ms is None:
        age = None
    else:
        age = max(moment - position.oldest_unprocessed_ms / 1000, 0.0)
    return PartitionStatus(
        stage.name, stage.consumer, stage.topic, partition, stored, position.end, lag, age, error
    )


async def _unread(
    stage: Stage, stored: Mapping[tuple[str, str, int], int]
) -> dict[int, _LogPosition]:
    """No broker to ask: the partitions with a stored offset, the log's end unknown."""
    return {
        p: _LogPosition(None, None) for c, t, p in stored if (c, t) == (stage.consumer, stage.topic)
    }


async def _read_log(
    bootstrap_servers: str,
    stage: Stage,
    stored: Mapping[tuple[str, str, int], int],
    wait_s: float,
    security: Mapping[str, Any] | None = None,
) -> dict[int, _LogPosition]:
    """Per partition of the stage's topic: the log's end, and the timestamp of the first
    record from the stored offset on (fetched, never ``end_offsets``)."""
    probe = log_probe(bootstrap_servers, security)
    await probe.start()
    try:
        await probe.topics()  # the cluster's metadata, for the topic's partitions
        known = probe.partitions_for_topic(stage.topic) or set()
        mine = {p for (c, t, p) in stored if (c, t) == (stage.consumer, stage.topic)}
        positions = {
            TopicPartition(stage.topic, p): stored.get((stage.consumer, stage.topic, p), 0)
            for p in known | mine
        }
        if not positions:
            return {}
        probe.assign(list(positions))
        for tp, offset in positions.items():
            probe.seek(tp, offset)
        return await _fetch_positions(probe, positions, wait_s)
    finally:
        await probe.stop()


async def _fetch_positions(
    probe: AIOKafkaConsumer, positions: Mapping[TopicPartition, int], wait_s: float
) -> dict[int, _LogPosition]:
    ends: dict[TopicPartition, int | None] = {}
    oldest: dict[TopicPartition, int] = {}

    def known(tp: TopicPartition) -> bool:
        end = ends.get(tp, -1)
        return tp in ends and (end is None or tp in oldest or end <= positions[tp])

    try:
        async with asyncio.timeout(wait_s):
            while not all(known(tp) for tp in positions):
                try:
                    batch = await probe.getmany(timeout_ms=100, max_records=len(positions))
                except OffsetOutOfRangeError as exc:
                    ends |= dict.fromkeys(exc.args[0] if exc.args else (), None)
                    continue
                for tp, records in batch.items():
                    if records and tp not in oldest:
                        oldest[tp] = records[0].timestamp
                        probe.pause(tp)
                for tp in positions:
                    if tp not in ends and (highwater := probe.highwater(tp)) is not None:
                        ends[tp] = highwater
    except TimeoutError:
        pass  # what no fetch answered in time is reported unknown
    return {tp.partition: _LogPosition(ends.get(tp), oldest.get(tp)) for tp in positions}
