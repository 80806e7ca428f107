"""The log ports (``consumers/ports.py``) over aiokafka: a consumer and a producer that do
exactly what aiokafka does, created at ``start`` so that a stopped runner can run again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from consumers.log_check import high_watermarks
from consumers.ports import Errors, Rebalance, Record, TopicPartition


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, listener: Rebalance) -> None:
        self.listener = listener

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.listener.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.listener.on_partitions_assigned(assigned)


FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch that has less than a byte to return. aiokafka's
default (500 ms) is paid at every stage an event crosses once traffic is light: the
resolver's merge waits for every partition's fetch, then the views' fetch waits again."""


class KafkaReader:
    """A stage's consumer: no Kafka-side commits (offsets live with the view), large
    fetches, a short session so that a dead worker's partitions move on quickly."""

    outages: Errors = (KafkaError,)

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        group_id: str | None,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.group_id = group_id
        self.security = security or {}
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the reader is not started")
        return self._consumer

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **self.security,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self.consumer.assign(list(partitions))

    def subscribe(self, topic: str, listener: Rebalance) -> None:
        self.consumer.subscribe([topic], listener=_Listener(listener))

    def assignment(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = self.consumer.assignment()
        return assigned

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        fetched: dict[TopicPartition, list[Record]] = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return fetched

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.consumer.seek(partition, offset)

    def highwater(self, partition: TopicPartition) -> int | None:
        highwater: int | None = self.consumer.highwater(partition)
        return highwater

    async def beginning_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        beginnings: dict[TopicPartition, int] = await self.consumer.beginning_offsets(partitions)
        return beginnings

    async def log_ends(
        self, positions: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        # The fetch response's high watermark: ListOffsets undercounts on the embedded broker.
        return await high_watermarks(self.bootstrap_servers, positions, security=self.security)


class KafkaWriter:
    """A producer whose sends are acknowledged by every in-sync replica."""

    outages: Errors = (KafkaError,)

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        *,
        idempotence: bool,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.idempotence = idempotence
        self.security = security or {}
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the writer is not started")
        return self._producer

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=self.idempotence,
            client_id=self.client_id,
            **self.security,
        )
        await self._producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        producer = self.producer
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
