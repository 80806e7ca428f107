"""faust's aiokafka driver with the fetch wait set by the app, not hard-coded.

faust-streaming builds its worker consumer with ``fetch_max_wait_ms=1500``: when a
partition has nothing new, a fetch is answered only after that wait, and the embedded
broker answers after part of it even when records arrive meanwhile. An event reaching
a quiet partition then waits up to 1.5 s before the rules see it (the p99 from resolved
record to trigger record was 1,746 ms). The app sets the wait (``TriggerAppConfig``).

Its producer buffers table changelog records, and the consumer flushes that buffer before
it commits offsets; faust's flush gives up when a record takes more than 0.1 s to leave
(``_ChangelogBuffer``): the app's flush waits for all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if isinstance(self.app, TriggerApp):
            # Read by AIOKafkaConsumer.start() when it builds its fetcher: set before then.
            consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return cast(Mapping[TP, int], await self.call_thread(self._seek_every_partition))

    async def _seek_every_partition(self) -> Mapping[Any, int | None]:
        # aiokafka's ``seek_to_committed`` moves only partitions with a committed offset
        # above 0: the others would go on from wherever the fetcher has got to.
        consumer = self._ensure_consumer()
        committed: dict[Any, int | None] = await consumer.seek_to_committed()
        unset = [tp for tp, offset in committed.items() if offset is None or offset < 0]
        for tp, offset in committed.items():
            if offset == 0:
                consumer.seek(tp, 0)
        if unset:
            if self.app.conf.consumer_auto_offset_reset == "latest":
                await consumer.seek_to_end(*unset)
            else:
                await consumer.seek_to_beginning(*unset)
        return committed


class _Consumer(driver.Consumer):
    """Stops the flow before it seeks to the committed offsets (``perform_seek``).

    faust's recovery resumes the stream partitions, seeks them, then resumes the flow,
    which empties the agent's queue (``clear_on_resume``): the events fetched while it
    seeks are dropped unacked and never read again — the committed offset then stays
    below that hole for good, or (never committed) jumps over it. That happens when the
    agent is still busy with its first event while the others queue up (it opens the key
    store: ``privacy.runtime``). Stopped, nothing is delivered until the recovery resumes
    the flow, and every partition is read again from its committed offset, or from the
    reset position if it has none."""

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        self.stop_flow()  # faust's recovery resumes it right after the seek
        await super().perform_seek()


class _ChangelogBuffer(ProducerBuffer):
    """faust's buffer of table changelog records (``send_soon``), with a flush that returns
    only once every record it held is in aiokafka's hands.

    faust's ``flush`` waits 0.1 s for each record to leave and returns when one takes
    longer — as it does when aiokafka's batch for the partition is full and waits for the
    broker's answer. The consumer flushes the producer and then commits, so it could
    commit the offsets of events whose states were still here; a SIGKILL then loses those
    states (and their timers) for good, since the events are not read again."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sending = 0  # taken off the queue, not yet handed to aiokafka

    async def _send_pending(self, fut: Any) -> None:
        self._sending += 1
        try:
            await super()._send_pending(fut)
        finally:
            self._sending -= 1

    async def flush(self) -> None:
        # Only ``_handle_pending`` sends, so the records keep their order (a compacted
        # changelog keeps a key's last record).
        while self.size or self._sending:
            if self.state != "running" and self.size:
                raise RuntimeError(f"cannot flush {self.size} changelog records: {self.state}")
            self.message_sent.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)


class _Producer(driver.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.app.conf.producer_threaded:  # threaded: faust's own queue, not ours
            self.buffer = _ChangelogBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app


class _Transport(driver.Transport):
    Consumer = _Consumer
    Producer = _Producer


class TriggerApp(faust.App):
    """A faust app whose consumer waits at most ``fetch_max_wait`` seconds for a fetch."""

    def __init__(self, *args: Any, fetch_max_wait: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = max(1, int(fetch_max_wait * 1000))

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
