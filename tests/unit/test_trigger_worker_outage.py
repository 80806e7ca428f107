"""The triggers worker waits out an unreachable key store rather than passing a record
over: faust acknowledges a record whose step raised, so a sealed record read while
PostgreSQL restarts would otherwise never fire its trigger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from consumers.triggers.clock import Clock
from consumers.triggers.worker import OutageTooLong, TriggerTopics, TriggerWorker
from events.codec import InvalidEvent
from events.resolved import RESOLVED, Resolved, encode_resolved
from privacy.runtime import KeyStoreUnavailable
from projections.triggers import DEFAULT_RULES, TriggerEngine, parse_rules
from tests.factories import BASE_TIME
from tests.triggers_support import survey, touchpoint

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


def _worker(decoder: Any) -> tuple[TriggerWorker, list[tuple[str, bytes]]]:
    sent: list[tuple[str, bytes]] = []

    async def send(topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        sent.append((topic, value))

    rules = parse_rules({"rules": [{"name": "unhappy-call-back", "type": "survey_follow_up"}]})
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
    await worker.on_resolved(0, 7, b"cid", UNHAPPY)
    assert keys.calls == 2
    assert [topic for topic, _ in sent] == ["triggers"]
    assert b'"customer_id":"cid"' in sent[0][1]


async def test_past_the_tolerance_the_record_is_not_applied_and_the_error_says_why() -> None:
    keys = FlakyKeys(failures=10, error=ConnectionRefusedError(111, "refused"))
    worker, sent = _worker(keys)
    worker.outage_tolerance_s = 0.0
    with pytest.raises(OutageTooLong, match=r"unreachable for 0\.[1-9] s: ConnectionRefusedError"):
        await worker.on_resolved(0, 7, b"cid", UNHAPPY)
    assert sent == []
    assert worker.states == {}


async def test_an_error_that_is_not_an_outage_is_not_retried() -> None:
    keys = FlakyKeys(failures=1, error=ValueError("a bug"))
    worker, _ = _worker(keys)
    with pytest.raises(ValueError, match="a bug"):
        await worker.on_resolved(0, 7, b"cid", UNHAPPY)
    assert keys.calls == 1
