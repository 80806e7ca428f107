"""The README's examples that need a broker, run against the embedded one.

The examples name ``127.0.0.1:9092`` and the default topic; here ``producers.Publisher``
is pointed at the session's broker and a topic of this test, then every ```python block
of the file runs in order, as a reader would run them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import producers
from events import decode
from tests.integration.kafka_support import read_topic
from tests.unit.test_docs import NEEDS_BROKER, README, python_blocks, run_python
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_the_readme_publishes_its_call(
    broker: EmbeddedBroker, topics: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = python_blocks(README)
    assert any(b.marker == NEEDS_BROKER for b in examples)
    documented = producers.Publisher
    addresses: list[str] = []

    def publisher(bootstrap_servers: str, **options: Any) -> producers.Publisher:
        addresses.append(bootstrap_servers)
        return documented(broker.bootstrap_servers, topic=topics["touchpoints"], **options)

    monkeypatch.setattr(producers, "Publisher", publisher)
    namespace: dict[str, Any] = {"__name__": "docs:README.md"}

    await run_python(examples, namespace)

    assert addresses == ["127.0.0.1:9092"]
    [record] = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
    assert (record.partition, record.offset) == (
        namespace["receipt"].partition,
        namespace["receipt"].offset,
    )
    event = decode(record.value)
    assert event.type == "call.logged"
    assert event.subject.customer_id == "C-1042"
    assert json.loads(record.value)["payload"]["outcome"] == "date confirmed"
