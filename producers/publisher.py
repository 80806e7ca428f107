"""The async Python SDK: validate, key by subject, publish with ``acks=all``.

    async with Publisher("localhost:9092") as publisher:
        receipt = await publisher.publish(event_or_dict)

An invalid event raises ``events.InvalidEvent`` naming the field and the
reason, and nothing is sent.

Given a ``privacy.sealing.Sealer``, the publisher seals each event's personal fields with
its subject's data key: the record key is then the subject's ref (a pseudonym), the value
the event with its ``subject`` and personal payload fields sealed, and the headers name
only the type and version (docs/PRIVACY.md). Without one, events go in clear.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import structlog
from aiokafka import AIOKafkaProducer

from events import Touchpoint, encode, from_mapping, topics
from producers.partitioning import SubjectPartitioner

if TYPE_CHECKING:
    from privacy.sealing import Sealer

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Published:
    """Where the broker stored an event."""

    message_id: str
    topic: str
    partition: int
    offset: int


def prepare(event: Touchpoint | Mapping[str, Any], now: datetime | None = None) -> Touchpoint:
    """Validate and stamp an event as the SDK sends it (``sent_at``/``received_at``)."""
    touchpoint = event if isinstance(event, Touchpoint) else from_mapping(event)
    now = now or datetime.now(UTC)
    stamps = {name: now for name in ("sent_at", "received_at") if getattr(touchpoint, name) is None}
    return touchpoint.model_copy(update=stamps) if stamps else touchpoint


def record_headers(event: Touchpoint) -> list[tuple[str, bytes]]:
    return [("type", event.type.encode()), ("schema_version", str(event.schema_version).encode())]


class Publisher:
    """Publishes touchpoints to ``touchlog.touchpoints``, one subject per partition."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str = topics.TOUCHPOINTS,
        idempotence: bool = True,
        linger_ms: int = 5,
        client_id: str = "touchlog-sdk",
        security: Mapping[str, Any] | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """``security``: aiokafka's TLS / SASL options (``security_protocol``,
        ``ssl_context``, ``sasl_mechanism``, ``sasl_plain_username``, …); ``sealer``:
        seal personal fields (closed with the publisher)."""
        self.topic = topic
        self.sealer = sealer
        self._last_timestamp_ms = 0
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=idempotence,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            compression_type=None,
            partitioner=SubjectPartitioner(),
            **(security or {}),
        )

    async def start(self) -> None:
        try:
            if self.sealer is not None:
                await self.sealer.start()
            await self._producer.start()
        except BaseException:
            await self.stop()  # nothing left open: the producer, the sealer's pool
            raise

    async def stop(self) -> None:
        try:
            await self._producer.stop()
        finally:
            if self.sealer is not None:
                await self.sealer.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, event: Touchpoint | Mapping[str, Any]) -> Published:
        """Validate, send and wait for the broker's acknowledgement."""
        return (await self.publish_many([event]))[0]

    async def publish_many(
        self, events: Iterable[Touchpoint | Mapping[str, Any]], *, in_order: bool = False
    ) -> list[Published]:
        """Validate every event first (all or nothing), then send them pipelined.

        Order is kept per subject: events with the same key go to one partition
        in the order given. ``in_order`` keeps it across subjects too, for the identity
        resolver, which reads partitions interleaved by record timestamp: each record is
        stamped at least 1 ms after the one before (sent together, records share a
        millisecond and a tie goes by partition). A burst then runs ahead of the clock by
        up to a millisecond an event: meant for loading a history (the demo), not for
        live traffic.
        """
        prepared = [prepare(e) for e in events]
        records = (
            await self.sealer.seal(prepared)
            if self.sealer is not None
            else [(event.subject.key().encode(), encode(event)) for event in prepared]
        )
        futures = []
        for event, (key, value) in zip(prepared, records, strict=True):
            timestamp_ms = None
            if in_order:
                timestamp_ms = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
                self._last_timestamp_ms = timestamp_ms
            futures.append(
                await self._producer.send(
                    self.topic,
                    value=value,
                    key=key,
                    headers=record_headers(event),
                    timestamp_ms=timestamp_ms,
                )
            )
        metadata = await asyncio.gather(*futures)
        return [
            Published(event.message_id, md.topic, md.partition, md.offset)
            for event, md in zip(prepared, metadata, strict=True)
        ]
