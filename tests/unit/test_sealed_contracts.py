"""Sealed events stay valid against the published JSON Schemas: each personal field accepts
a sealed value (``$defs/Sealed``, ``x-sealed``) in place of its own, and that alternative
is a backward-compatible change to a contract published without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import EVENT_TYPES, contracts, from_mapping
from events.compatibility import breaking_changes
from privacy.keys import KeyRing
from privacy.sealing import SEALED_PATTERN, Sealer, is_sealed, personal_payload_fields
from tests.unit.event_documents import documents
from tests.unit.test_sealing import MemoryKeyStore

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _published(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS / relative).read_text())
    return document


ENVELOPE = jsonschema.Draft202012Validator(_published("envelope.json"))
VALIDATORS = {
    name: jsonschema.Draft202012Validator(
        _published(contracts.schema_path(name, cls.current_version))
    )
    for name, cls in EVENT_TYPES.items()
}


@settings(max_examples=3, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
async def test_an_event_sealed_by_the_sdk_satisfies_its_contract_and_the_envelope(
    type_name: str, data: st.DataObject
) -> None:
    event = from_mapping(data.draw(documents(type_name)))
    sealer = Sealer(KeyRing(MemoryKeyStore(), cache_seconds=0))
    await sealer.start()
    ((_, value),) = await sealer.seal([event])
    document = msgspec.json.decode(value)

    assert is_sealed(document["subject"])
    for name in personal_payload_fields(type_name):
        assert document["payload"].get(name) is None or is_sealed(document["payload"][name])
    VALIDATORS[type_name].validate(document)
    ENVELOPE.validate(document)


def test_a_sealed_value_must_look_sealed() -> None:
    validator = VALIDATORS["call.logged"]
    document = {
        "type": "call.logged",
        "schema_version": 2,
        "occurred_at": "2026-03-01T09:00:00+00:00",
        "source": {"system": "crm", "business_unit": "retail", "channel": "phone"},
        "subject": "tlx1.not-a-sealed-value",
        "payload": {"direction": "inbound", "duration_seconds": 1, "reason": "r", "outcome": "o"},
    }
    errors = list(validator.iter_errors(document))
    assert errors
    assert any(list(e.absolute_path)[:1] == ["subject"] for e in errors)
    assert SEALED_PATTERN.startswith("^tlx1")


def test_accepting_sealed_values_is_backward_compatible() -> None:
    for name, cls in EVENT_TYPES.items():
        new = contracts.type_schema(cls)
        old = json.loads(json.dumps(new))
        old["properties"]["subject"] = old["properties"]["subject"]["anyOf"][0]
        for node in old["$defs"].values():
            for field, prop in node.get("properties", {}).items():
                if isinstance(prop, dict) and {"$ref": "#/$defs/Sealed"} in prop.get("anyOf", []):
                    prop["anyOf"] = [b for b in prop["anyOf"] if b != {"$ref": "#/$defs/Sealed"}]
                    node["properties"][field] = prop
        assert breaking_changes(old, new) == [], name
