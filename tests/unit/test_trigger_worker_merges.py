"""The triggers worker's steps without faust: a merge moves state to the survivor, once."""

from __future__ import annotations

from datetime import timedelta

from consumers.triggers.clock import Clock
from consumers.triggers.worker import TriggerTopics, TriggerWorker
from events import from_mapping
from events.resolved import encode_resolved
from projections.triggers import CustomerState, TriggerEngine, parse_rules
from tests.factories import BASE_TIME
from tests.triggers_support import complaint, touchpoint

TOPICS = TriggerTopics("resolved", "commands", "triggers", "suppressed", "deadletter")
RULES = parse_rules({"rules": [{"name": "sla", "type": "complaint_escalation"}]})


class Sent(list[tuple[str, bytes | None, bytes]]):
    async def __call__(self, topic: str, key: bytes | None, value: bytes, _: int | None) -> None:
        self.append((topic, key, value))

    def take(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        taken = [(k, v) for t, k, v in self if t == topic]
        self[:] = [s for s in self if s[0] != topic]
        return taken


def _worker() -> tuple[TriggerWorker, dict[bytes, CustomerState], Sent]:
    states: dict[bytes, CustomerState] = {}
    sent = Sent()
    worker = TriggerWorker(
        TriggerEngine(RULES), states, sent, clock=Clock(manual=True), topics=TOPICS
    )
    return worker, states, sent


def _merged(survivor: str, merged: str) -> bytes:
    event = from_mapping(
        {
            "type": "customer.merged",
            "message_id": "merge-1",
            "occurred_at": (BASE_TIME + timedelta(hours=1)).isoformat(),
            "source": {"system": "touchlog-identity", "business_unit": "all", "channel": "app"},
            "subject": {"customer_id": survivor},
            "payload": {
                "surviving_customer_id": survivor,
                "merged_customer_ids": [merged],
                "reason": "same email",
                "merged_by": "resolver",
            },
        }
    )
    return encode_resolved(survivor, event)


async def test_a_merged_customers_open_complaint_escalates_under_the_survivor() -> None:
    worker, states, sent = _worker()
    opened = touchpoint("complaint.opened", "old", BASE_TIME, complaint("K-1", "high"))
    await worker.on_resolved(1, 0, b"old", encode_resolved("old", opened))
    await worker.on_resolved(2, 0, b"new", _merged("new", "old"))
    [(key, merge_out)] = sent.take("commands")
    assert key == b"old"
    await worker.on_command(1, key, merge_out)
    [(key, absorb)] = sent.take("commands")
    assert key == b"new"
    await worker.on_command(2, key, absorb)
    await worker.on_command(2, key, absorb)  # a replayed command changes nothing

    assert states[b"old"].merged_into == "new"
    assert states[b"old"].timers == ()
    assert [t.key for t in states[b"new"].timers] == ["K-1"]
    await worker.on_command(2, None, b'{"kind":"tick","now":"2026-03-03T09:00:00+00:00"}')
    await worker.on_command(1, None, b'{"kind":"tick","now":"2026-03-03T09:00:00+00:00"}')
    [(key, value)] = sent.take("triggers")
    assert key == b"new"
    assert b'"rule":"sla"' in value


async def test_an_undecodable_record_is_dead_lettered_with_the_reason() -> None:
    worker, states, sent = _worker()
    await worker.on_resolved(0, 7, b"k", b'{"customer_id": "x", "event": {"type": "nope"}}')
    [(key, letter)] = sent.take("deadletter")
    assert key == b"triggers/resolved/0/7"
    assert b"invalid event" in letter
    assert states == {}
