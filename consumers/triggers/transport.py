"""faust's Kafka transport, with high watermarks read from fetch responses.

faust restores a table by reading its changelog up to the partition's high watermark,
which its aiokafka driver asks for with ListOffsets (``end_offsets``). The embedded
broker answers ListOffsets with the last *batch's* base offset + 1 (DESIGN.md), and the
changelog is written in batches: recovery would stop short of the last state written
per partition, and the worker would resume from stale state. A fetch response carries
the true high watermark, on any Kafka.

Selected by the broker URL scheme ``touchlog://`` (registered with faust on import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from consumers.log_check import high_watermarks

SCHEME = "touchlog"


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        if not partitions:
            return {}
        consumer = self._ensure_consumer()
        bootstrap = ",".join(consumer._client._bootstrap_servers)
        ends = await high_watermarks(bootstrap, dict.fromkeys(partitions, 0))
        # A partition whose start was deleted answers "out of range" at 0: ask its start.
        missing = [tp for tp, end in ends.items() if end is None]
        if missing:
            starts = await consumer.beginning_offsets(missing)
            ends |= await high_watermarks(bootstrap, {tp: starts[tp] for tp in missing})
        return {tp: end or 0 for tp, end in ends.items()}


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
