"""The gateway's way into the log: one acknowledgement future per event (``acks=all``).

The SDK's ``Publisher`` waits for a whole batch; the gateway needs each event's own
acknowledgement, so that a batch the broker half-took is answered event by event.
Records are written as the SDK writes them: same key, value and headers — sealed when
the gateway has a ``Sealer`` (it seals for producers that cannot: docs/PRIVACY.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer

from events import Touchpoint, encode
from producers.partitioning import SubjectPartitioner
from producers.publisher import record_headers

if TYPE_CHECKING:
    from privacy.sealing import Sealer


@dataclass(frozen=True, slots=True)
class Sent:
    acks: list[asyncio.Future[Any] | None]
    """Per event: the future of its acknowledgement, or None if it was not queued."""
    error: Exception | None


@dataclass(slots=True)
class _Batch:
    builder: Any  # aiokafka's BatchBuilder
    positions: list[int] = field(default_factory=list)

    def append(self, position: int, record: tuple[bytes, bytes, list[tuple[str, bytes]]]) -> bool:
        """False when the batch is full (a 32 KB event always fits an empty one)."""
        key, value, headers = record
        if self.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            return False
        self.positions.append(position)
        return True


class LogSink:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        idempotence: bool = True,
        linger_ms: int = 5,
        request_timeout_ms: int = 40_000,
        security: Mapping[str, Any] | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        self.topic = topic
        self.sealer = sealer
        self._partitioner = SubjectPartitioner()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id="touchlog-gateway",
            acks="all",
            enable_idempotence=idempotence,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=request_timeout_ms,
            partitioner=self._partitioner,
            **(security or {}),
        )

    async def start(self) -> None:
        try:
            if self.sealer is not None:
                await self.sealer.start()
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_many(self, events: Sequence[Touchpoint]) -> Sent:
        """Queue ``events`` as one record batch per partition (more when one fills), in
        order; each event's future is its batch's. Far cheaper per event than ``send``.

        On a failure part-way, the events queued so far keep their futures and the rest
        have none; the error is returned with them.
        """
        acks: list[asyncio.Future[Any] | None] = [None] * len(events)
        try:
            partitions = sorted(await self._producer.partitions_for(self.topic))
            batches: dict[int, _Batch] = {}
            records = await self._records(events)
            for position, (event, (key, value)) in enumerate(zip(events, records, strict=True)):
                partition = self._partitioner(key, partitions, partitions)
                batch = batches.get(partition)
                if batch is None:
                    batch = batches[partition] = _Batch(self._producer.create_batch())
                record = (key, value, record_headers(event))
                if not batch.append(position, record):
                    await self._submit(batch, partition, acks)  # full: on its way
                    batch = batches[partition] = _Batch(self._producer.create_batch())
                    batch.append(position, record)
            for partition, batch in batches.items():
                await self._submit(batch, partition, acks)
        except Exception as exc:  # noqa: BLE001  # handed back with what was queued
            return Sent(acks, exc)
        return Sent(acks, None)

    async def _submit(
        self, batch: _Batch, partition: int, acks: list[asyncio.Future[Any] | None]
    ) -> None:
        ack = await self._producer.send_batch(batch.builder, self.topic, partition=partition)
        for position in batch.positions:
            acks[position] = ack

    async def send(self, event: Touchpoint) -> asyncio.Future[Any]:
        """Queue ``event``; the future resolves when the broker acknowledged it.

        May wait while the producer's buffer for the partition is full (a slow broker).
        """
        [(key, value)] = await self._records([event])
        ack: asyncio.Future[Any] = await self._producer.send(
            self.topic, value=value, key=key, headers=record_headers(event)
        )
        return ack

    async def _records(self, events: Sequence[Touchpoint]) -> list[tuple[bytes, bytes]]:
        """Each event's record key and value: sealed, or in clear without a sealer."""
        if self.sealer is not None:
            return await self.sealer.seal(events)
        return [(event.subject.key().encode(), encode(event)) for event in events]
