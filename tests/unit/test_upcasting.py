"""Old versions are read as the current one: call.logged v1 (notes) becomes v2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from events import InvalidEvent, decode, encode, from_mapping
from events.touchpoints import NOT_RECORDED, CallLogged, CallLoggedPayload
from events.upcasting import missing_upcasters, upcast, upcaster
from projections.timeline import project
from tests.unit.event_documents import V1_CALL

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_a_v1_document_is_what_the_v1_contract_describes() -> None:
    contract = json.loads((SCHEMAS / "call.logged" / "v1.json").read_text())

    jsonschema.Draft202012Validator(contract).validate(V1_CALL)


def test_a_v1_call_decodes_as_the_current_version() -> None:
    event = decode(json.dumps(V1_CALL))

    assert isinstance(event, CallLogged)
    assert event.schema_version == CallLogged.current_version == 2
    assert event.payload == CallLoggedPayload(
        direction="inbound",
        dialled_number="+448081570000",
        duration_seconds=312,
        reason=NOT_RECORDED,
        outcome=NOT_RECORDED,
        agent_id="agent-014",
        notes=V1_CALL["payload"]["notes"],
    )
    assert json.loads(encode(event))["schema_version"] == 2


def test_the_log_is_not_rewritten_the_reader_upcasts_a_copy() -> None:
    original = json.loads(json.dumps(V1_CALL))

    from_mapping(original)

    assert original == V1_CALL


def test_the_timeline_shows_an_upcast_call_with_its_notes() -> None:
    [row] = project(decode(json.dumps(V1_CALL)))

    assert (
        row.summary
        == "Inbound call (5m12s): Asked where order O-77 is. Courier delayed; promised a call back."
    )
    assert json.loads(row.payload_json)["reason"] == NOT_RECORDED


def test_a_v2_call_without_a_version_is_read_as_current() -> None:
    doc = {
        **V1_CALL,
        "payload": {
            "direction": "outbound",
            "duration_seconds": 60,
            "reason": "renewal",
            "outcome": "renewed",
        },
    }
    del doc["schema_version"]

    event = decode(json.dumps(doc))

    assert event.schema_version == 2
    assert event.summary() == "Outbound call (1m00s): renewal → renewed"


def test_a_version_newer_than_the_reader_is_refused_at_its_path() -> None:
    v2_payload = {"direction": "inbound", "duration_seconds": 5, "reason": "r", "outcome": "o"}

    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps({**V1_CALL, "schema_version": 3, "payload": v2_payload}))

    [error] = rejected.value.errors
    assert error.path == "schema_version"
    assert "newer than this reader knows" in error.reason


def test_a_v1_call_still_needs_what_v1_required() -> None:
    payload = {key: value for key, value in V1_CALL["payload"].items() if key != "duration_seconds"}

    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps({**V1_CALL, "payload": payload}))

    assert [e.path for e in rejected.value.errors] == ["payload.duration_seconds"]


def test_every_old_version_of_every_type_can_be_read() -> None:
    from events import EVENT_TYPES

    assert missing_upcasters({name: cls.current_version for name, cls in EVENT_TYPES.items()}) == []


def test_a_gap_in_a_history_is_reported_and_refused() -> None:
    @upcaster("test.gappy", from_version=1)
    def step(event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "payload": {**event["payload"], "added": True}}

    assert missing_upcasters({"test.gappy": 3}) == ["test.gappy v2 -> v3"]
    assert upcast({"schema_version": 1, "payload": {}}, "test.gappy", 2) == {
        "schema_version": 2,
        "payload": {"added": True},
    }
    with pytest.raises(ValueError, match="no upcaster to v3"):
        upcast({"schema_version": 1, "payload": {}}, "test.gappy", 3)


def test_a_step_is_registered_once() -> None:
    with pytest.raises(ValueError, match="two upcasters"):
        upcaster("call.logged", from_version=1)(lambda event: event)
