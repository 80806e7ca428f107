"""The triggers worker in batches, as the faust app runs it: the same triggers and states
as a record at a time, each customer's state written once per batch, after the triggers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from consumers.triggers.clock import Clock
from consumers.triggers.worker import Record, TriggerTopics, TriggerWorker
from events.resolved import encode_resolved
from producers.demo import demo_events
from projections.triggers import DEFAULT_RULES, CustomerState, TriggerEngine

TOPICS = TriggerTopics("resolved", "commands", "triggers", "suppressed", "deadletter")
PARTITIONS = 3


class Journal(list[tuple[str, Any]]):
    """What the worker did, in order: ("send", topic) and ("write", key)."""


class States(dict[bytes, CustomerState]):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def __setitem__(self, key: bytes, value: CustomerState) -> None:
        self.journal.append(("write", key))
        super().__setitem__(key, value)


def _worker() -> tuple[TriggerWorker, States, Journal, list[tuple[str, bytes]]]:
    journal = Journal()
    states = States(journal)
    sent: list[tuple[str, bytes]] = []

    async def send(topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        journal.append(("send", topic))
        sent.append((topic, value))

    worker = TriggerWorker(
        TriggerEngine(DEFAULT_RULES), states, send, clock=Clock(manual=True), topics=TOPICS
    )
    return worker, states, journal, sent


def _records() -> list[Record]:
    """The demo's histories on the resolved topic, a customer per partition by key."""
    offsets = [0] * PARTITIONS
    records = []
    for event in demo_events(40):
        customer = event.subject.key()
        partition = sum(customer.encode()) % PARTITIONS
        value = encode_resolved(customer, event)
        records.append(Record("resolved", partition, offsets[partition], customer.encode(), value))
        offsets[partition] += 1
    return records


def _batches(records: list[Record], size: int) -> Iterator[list[Record]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


async def test_batches_decide_what_one_record_at_a_time_decides() -> None:
    records = _records()
    one, one_states, _, one_sent = _worker()
    for r in records:
        await one.on_resolved(r.partition, r.offset, r.key, r.value)
    batched, batched_states, _, batched_sent = _worker()
    for batch in _batches(records, 97):
        await batched.on_batch(batch, lambda _: None)

    assert any(topic == "triggers" for topic, _ in one_sent)
    assert batched_sent == one_sent
    assert dict(batched_states) == dict(one_states)


async def test_a_batch_writes_each_state_once_after_every_trigger_it_sends() -> None:
    records = _records()
    worker, _, journal, _ = _worker()
    for batch in _batches(records, 200):
        journal.clear()
        await worker.on_batch(batch, lambda _: None)
        writes = [key for what, key in journal if what == "write"]
        assert sorted(writes) == sorted({r.key or b"" for r in batch})
        last_send = max((i for i, (what, _) in enumerate(journal) if what == "send"), default=-1)
        first_write = min(i for i, (what, _) in enumerate(journal) if what == "write")
        assert last_send < first_write


async def test_each_write_names_the_record_that_last_changed_the_state() -> None:
    records = [
        Record(r.topic, r.partition, r.offset, r.key, r.value, origin=i)
        for i, r in enumerate(_records()[:300])
    ]
    worker, states, journal, _ = _worker()
    current: list[Any] = []

    def origin(record: Any) -> None:
        current.append(record)

    await worker.on_batch(records, origin)
    writes = [key for what, key in journal if what == "write"]
    written = dict(zip(writes, current, strict=True))
    last = {r.key: r.origin for r in records}
    assert written == last
    assert set(states) == set(last)


async def test_an_undecodable_record_in_a_batch_is_dead_lettered_and_the_rest_applied() -> None:
    records = _records()[:50]
    bad = Record("resolved", 0, 999, b"k", b'{"customer_id": "x", "event": {"type": "nope"}}')
    empty = Record("resolved", 1, 998, b"k", None)
    worker, states, _, sent = _worker()
    await worker.on_batch([*records[:20], bad, empty, *records[20:]], lambda _: None)

    letters = [value for topic, value in sent if topic == "deadletter"]
    assert len(letters) == 2
    assert b"invalid event" in letters[0]
    assert set(states) == {r.key for r in records}
