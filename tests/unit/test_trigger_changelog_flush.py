"""The triggers app's producer: a flush hands every buffered changelog record to aiokafka
before it returns (the consumer flushes, then commits the offsets of the events that wrote
them), however long a record takes to leave."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from consumers.triggers.faust_kafka import TriggerApp, _ChangelogBuffer


class SlowChannel:
    """A changelog topic whose sends wait until ``opened``, as a send to a full aiokafka
    batch waits for the broker's answer."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.sent: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await self.opened.wait()
        self.sent.append(fut.number)


def _record(channel: SlowChannel, number: int) -> Any:
    return SimpleNamespace(number=number, message=SimpleNamespace(channel=channel))


async def test_a_flush_waits_for_every_record_however_slow_the_broker() -> None:
    buffer = _ChangelogBuffer()
    buffer.app = cast(Any, SimpleNamespace(conf=SimpleNamespace(producer_threaded=False)))
    await buffer.start()
    try:
        channel = SlowChannel()
        for number in range(5):
            buffer.put(_record(channel, number))
        # Longer than the 0.1 s after which faust's own flush returns with records left.
        asyncio.get_running_loop().call_later(0.3, channel.opened.set)
        await buffer.flush()
        assert channel.sent == [0, 1, 2, 3, 4]  # all of them, in their order
        assert buffer.size == 0
    finally:
        await buffer.stop()


def test_the_app_producer_buffers_changelog_records_in_the_waiting_buffer() -> None:
    app = TriggerApp("test-changelog-flush", fetch_max_wait=0.1, broker="kafka://127.0.0.1:1")
    assert isinstance(app.producer.buffer, _ChangelogBuffer)
    assert app.producer.buffer.app is app
