"""The triggers worker waits out an unreachable key store or broker rather than passing a
record over: faust acknowledges a record whose step raised, so a sealed record read while
PostgreSQL restarts, or a trigger whose send failed, would otherwise never fire. A record
the step fails on for any other reason is dead-lettered with the error, never dropped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from consumers.triggers.clock import Clock
from consumers.triggers.worker import OutageTooLong, TriggerTopics, TriggerWorker
from events.codec import InvalidEvent
from events.resolved import RESOLVED, Resolved, encode_resolved
from privacy.runtime import KeyStoreUnavailable
from projections.triggers import DEFAULT_RULES, TriggerEngine, parse_rules
from tests.factories import BASE_TIME
from tests.triggers_support import complaint, survey, touchpoint

TOPICS = TriggerTopics("resolved", "commands", "triggers", "suppressed", "deadletter")


class FlakyKeys:
    """A decoder whose key store fails the first ``failures`` calls with ``error``."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def decode_records(self, raws: Sequence[bytes | None]) -> list[Resolved | InvalidEvent]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return RESOLVED.decode_many(list(raws))


def _worker(
    decoder: Any = RESOLVED, send_failures: int = 0
) -> tuple[TriggerWorker, list[tuple[str, bytes]]]:
    """A worker whose first ``send_failures`` sends fail as with the broker unreachable."""
    sent: list[tuple[str, bytes]] = []
    failing = [send_failures]

    async def send(topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        if failing[0]:
            failing[0] -= 1
            raise KafkaConnectionError("broker unreachable")
        sent.append((topic, value))

    rules = parse_rules(
        {
            "rules": [
                {"name": "unhappy-call-back", "type": "survey_follow_up"},
                {"name": "sla", "type": "complaint_escalation"},
            ]
        }
    )
    worker = TriggerWorker(
        TriggerEngine(rules or DEFAULT_RULES),
        {},
        send,
        clock=Clock(manual=True),
        topics=TOPICS,
        decoder=decoder,
    )
    return worker, sent


UNHAPPY = encode_resolved("cid", touchpoint("survey.responded", "cid", BASE_TIME, survey(1, 3)))


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "refused"), KeyStoreUnavailable("no pool")],
    ids=["connection refused", "no pool yet"],
)
async def test_a_record_read_while_the_keys_are_unreachable_fires_once_they_are_back(
    error: Exception,
) -> None:
    keys = FlakyKeys(failures=1, error=error)
    worker, sent = _worker(keys)
    await worker.step("resolved", 0, 7, b"cid", UNHAPPY)
    assert keys.calls == 2
    assert [topic for topic, _ in sent] == ["triggers"]
    assert b'"customer_id":"cid"' in sent[0][1]


async def test_past_the_tolerance_the_record_is_not_applied_and_the_error_says_why() -> None:
    keys = FlakyKeys(failures=10, error=ConnectionRefusedError(111, "refused"))
    worker, sent = _worker(keys)
    worker.outage_tolerance_s = 0.0
    with pytest.raises(
        OutageTooLong,
        match=r"resolved\[0\] offset 7 could not be applied for 0\.[1-9] s: ConnectionRefusedError",
    ):
        await worker.step("resolved", 0, 7, b"cid", UNHAPPY)
    assert sent == []
    assert worker.states == {}


async def test_an_error_that_is_not_an_outage_is_dead_lettered_not_retried() -> None:
    keys = FlakyKeys(failures=1, error=ValueError("a bug"))
    worker, sent = _worker(keys)
    await worker.step("resolved", 0, 7, b"cid", UNHAPPY)
    assert keys.calls == 1
    [(topic, letter)] = sent
    assert topic == "deadletter"
    assert "ValueError('a bug')" in json.loads(letter)["reason"]


async def test_a_trigger_whose_send_failed_is_sent_when_the_broker_is_back() -> None:
    worker, sent = _worker(send_failures=1)
    await worker.step("resolved", 0, 7, b"cid", UNHAPPY)
    assert [topic for topic, _ in sent] == ["triggers"]
    assert worker.states[b"cid"].has_seen  # the state saved once the trigger went


async def test_timers_a_failed_tick_did_not_fire_stay_due_and_fire_on_its_retry() -> None:
    worker, sent = _worker()
    for n, customer in enumerate(["ann", "bob", "cid"]):
        opened = touchpoint("complaint.opened", customer, BASE_TIME, complaint(f"K-{n}"))
        await worker.step("resolved", 0, n, customer.encode(), encode_resolved(customer, opened))
    assert sent == []
    due = [worker.index.earliest(0)]
    assert due[0] is not None

    async def failing_once(topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        worker.send = record  # the broker is back after this failure
        raise KafkaConnectionError("broker unreachable")

    async def record(topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        sent.append((topic, value))

    worker.send = failing_once
    later = due[0] + timedelta(minutes=1)
    tick = b'{"kind":"tick","now":"' + later.isoformat().encode() + b'"}'
    await worker.step("commands", 0, 0, None, tick)
    escalated = sorted(value.split(b'"customer_id":"')[1][:3] for _, value in sent)
    assert escalated == [b"ann", b"bob", b"cid"]  # each once, none lost to the failed send
    assert worker.index.earliest(0) is None or worker.index.earliest(0) > later


async def test_a_record_the_step_fails_on_is_dead_lettered_and_the_worker_goes_on() -> None:
    worker, sent = _worker()
    await worker.step("commands", 2, 41, b"cid", b"{not json")
    [(topic, letter)] = sent
    assert topic == "deadletter"
    recorded = json.loads(letter)
    assert (recorded["consumer"], recorded["topic"]) == ("triggers", "commands")
    assert (recorded["partition"], recorded["offset"]) == (2, 41)
    assert "JSONDecodeError" in recorded["reason"]

    apply = worker.engine.apply

    def tripping(state: Any, customer: str, event: Any, *rest: Any) -> Any:
        if customer == "odd":
            raise KeyError("a field no rule foresaw")
        return apply(state, customer, event, *rest)

    worker.engine.apply = tripping  # type: ignore[method-assign]
    odd = encode_resolved("odd", touchpoint("survey.responded", "odd", BASE_TIME, survey(1, 3)))
    await worker.step("resolved", 0, 8, b"odd", odd)
    await worker.step("resolved", 0, 9, b"cid", UNHAPPY)
    assert [topic for topic, _ in sent] == ["deadletter", "deadletter", "triggers"]
    recorded = json.loads(sent[1][1])
    assert (recorded["topic"], recorded["offset"]) == ("resolved", 8)
    assert "a field no rule foresaw" in recorded["reason"]
    assert b"odd" not in worker.states  # nothing of the failed step kept
