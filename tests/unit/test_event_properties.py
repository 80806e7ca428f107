"""Property tests of the catalogue: valid events survive JSON, mutated ones are refused."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from events import EVENT_TYPES, InvalidEvent, decode, encode
from tests.unit.event_documents import CURRENCY_PATTERN, SCHEMAS, documents, dotted, leaves

# A few examples per type keep the unit suite fast; search deeper with, for example,
#   TOUCHLOG_EXAMPLES=300 pytest tests/unit/test_event_properties.py
EXAMPLES = int(os.environ.get("TOUCHLOG_EXAMPLES", "5"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def contract_validator(type_name: str) -> Any:
    return jsonschema.Draft202012Validator(SCHEMAS[type_name])


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
@FAST
@given(data=st.data())
def test_every_valid_event_round_trips_through_json(type_name: str, data: st.DataObject) -> None:
    doc = data.draw(documents(type_name))

    event = decode(json.dumps(doc))  # the contract accepts it, so must the reader

    assert event.type == type_name
    assert decode(encode(event)) == event
    assert encode(decode(encode(event))) == encode(event)
    contract_validator(type_name).validate(json.loads(encode(event)))  # writer keeps it


# --- mutations ---------------------------------------------------------------------------

WRONG_TYPE = [{"wrong": "type"}]


def _missing(path: tuple[Any, ...], node: dict[str, Any], value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        return []
    # schema_version is required by the contract, but the reader takes absence as current
    required = set(node.get("required", ())) - ({"schema_version"} if not path else set())
    return [(dotted((*path, name)), ("delete", name)) for name in sorted(required & set(value))]


def sites(kind: str, doc: dict[str, Any], type_name: str) -> list[tuple[str, tuple[Any, ...], Any]]:
    """(expected error path, where, what to do there) for every place ``kind`` applies."""
    found: list[tuple[str, tuple[Any, ...], Any]] = []
    schema = SCHEMAS[type_name]
    for path, node, value in leaves(doc, schema, schema):
        if kind == "missing required field":
            found += [(expected, path, action) for expected, action in _missing(path, node, value)]
        elif kind == "wrong type" and path and path != ("type",):
            found.append((dotted(path), path, ("set", WRONG_TYPE)))
        elif kind == "out of range" and node.get("type") == "integer":
            if "maximum" in node:
                found.append((dotted(path), path, ("set", node["maximum"] + 1)))
            if "minimum" in node:
                found.append((dotted(path), path, ("set", node["minimum"] - 1)))
        elif kind == "bad currency" and node.get("pattern") == CURRENCY_PATTERN:
            found += [(dotted(path), path, ("set", bad)) for bad in ("eur", "EURO", "E1R")]
        elif kind == "naive datetime" and node.get("format") == "date-time":
            found.append((dotted(path), path, ("set", "2024-05-01T10:00:00")))
    return found


def mutate(doc: dict[str, Any], path: tuple[Any, ...], action: tuple[str, Any]) -> dict[str, Any]:
    mutated = copy.deepcopy(doc)
    if action[0] == "delete":
        target = mutated
        for part in path:
            target = target[part]
        del target[action[1]]
        return mutated
    *parents, last = path
    target = mutated
    for part in parents:
        target = target[part]
    target[last] = action[1]
    return mutated


def _types_with(pattern: str) -> list[str]:
    return sorted(name for name, schema in SCHEMAS.items() if pattern in json.dumps(schema))


APPLICABLE = {
    "missing required field": sorted(EVENT_TYPES),
    "wrong type": sorted(EVENT_TYPES),
    "out of range": sorted(EVENT_TYPES),
    "bad currency": _types_with(json.dumps(CURRENCY_PATTERN)),
    "naive datetime": sorted(EVENT_TYPES),
}


@pytest.mark.parametrize("kind", sorted(APPLICABLE))
@settings(max_examples=5 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_events_are_rejected_naming_the_path(kind: str, data: st.DataObject) -> None:
    type_name = data.draw(st.sampled_from(APPLICABLE[kind]))
    doc = data.draw(documents(type_name))
    candidates = sites(kind, doc, type_name)
    assume(candidates)
    expected, path, action = data.draw(st.sampled_from(candidates))

    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(mutate(doc, path, action)))

    paths = [error.path for error in rejected.value.errors]
    assert any(p == expected or p.startswith(expected + ".") for p in paths), (expected, paths)
