"""The trigger state's encodings: the compact changelog form, the JSON of merge commands,
and the JSON earlier versions wrote, all read back to the same state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from producers.demo import demo_events
from projections.triggers import DEFAULT_RULES, CustomerState, TriggerEngine
from projections.triggers.state_codec import decode_state, encode_state, state_json


def _states() -> dict[str, CustomerState]:
    """Every demo customer's state after its history (timers, consents, views, fired...)."""
    engine = TriggerEngine(DEFAULT_RULES)
    states: dict[str, CustomerState] = {}
    for offset, event in enumerate(demo_events(60)):
        customer = event.subject.key()
        state = states.get(customer) or CustomerState(partition=offset % 3)
        states[customer], _ = engine.apply(state, customer, event, datetime.now(UTC), offset)
    return states


def test_the_compact_form_and_the_json_read_back_to_the_same_state() -> None:
    states = _states()
    assert any(s.timers for s in states.values())
    assert any(s.fired for s in states.values())
    assert any(s.consents for s in states.values())
    for state in states.values():
        assert decode_state(encode_state(state)) == state
        assert decode_state(state_json(state)) == state
        assert decode_state(state_json(state).decode()) == state


def test_the_compact_form_is_much_smaller_than_the_json() -> None:
    states = list(_states().values())
    compact = sum(len(encode_state(s)) for s in states)
    as_json = sum(len(state_json(s)) for s in states)
    assert compact < 0.7 * as_json


def test_a_state_written_by_an_earlier_version_still_knows_its_events() -> None:
    engine = TriggerEngine(DEFAULT_RULES)
    events = [e for e in demo_events(5) if e.subject.key() == demo_events(5)[0].subject.key()]
    state = CustomerState(partition=0)
    for offset, event in enumerate(events):
        state, _ = engine.apply(state, "c", event, datetime.now(UTC), offset)
    earlier = json.loads(state_json(state))
    earlier["recent_ids"] = [e.message_id for e in events][-64:]  # the ids themselves

    restored = decode_state(json.dumps(earlier).encode())

    assert restored == state
    assert all(restored.has_seen(e.message_id) for e in events[-64:])
    assert not restored.has_seen("never-seen")
