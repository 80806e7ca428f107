"""faust's aiokafka driver with the fetch wait set by the app, not hard-coded.

faust-streaming builds its worker consumer with ``fetch_max_wait_ms=1500``: when a
partition has nothing new, a fetch is answered only after that wait, and the embedded
broker answers after part of it even when records arrive meanwhile. An event reaching
a quiet partition then waits up to 1.5 s before the rules see it (the p99 from resolved
record to trigger record was 1,746 ms). The app sets the wait (``TriggerAppConfig``).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if isinstance(self.app, TriggerApp):
            # Read by AIOKafkaConsumer.start() when it builds its fetcher: set before then.
            consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer


class TriggerApp(faust.App):
    """A faust app whose consumer waits at most ``fetch_max_wait`` seconds for a fetch."""

    def __init__(self, *args: Any, fetch_max_wait: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = max(1, int(fetch_max_wait * 1000))

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
