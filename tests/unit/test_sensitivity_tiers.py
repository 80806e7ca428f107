"""Every field carries a sensitivity tier, in the models and in the published contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from events import EVENT_TYPES, Tier, field_tiers, versions_of
from events.envelope import Envelope, Model
from events.sensitivity import SCHEMA_KEY, essential, restricted
from events.touchpoints import Touchpoint
from producers.demo import demo_events

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ALL_VERSIONS = [cls for name in EVENT_TYPES for cls in versions_of(name).values()]


def _payload_model(cls: type[Touchpoint]) -> type[Model]:
    annotation = cls.model_fields["payload"].annotation
    assert isinstance(annotation, type)
    assert issubclass(annotation, Model)
    return annotation


@pytest.mark.parametrize("cls", ALL_VERSIONS, ids=lambda c: f"{c.type_name()}-v{c.current_version}")
def test_every_payload_field_has_a_tier(cls: type[Touchpoint]) -> None:
    tiers = field_tiers(_payload_model(cls))

    assert tiers
    assert [path for path, tier in tiers.items() if tier is None] == []


def test_every_envelope_field_has_a_tier() -> None:
    assert [path for path, tier in field_tiers(Envelope).items() if tier is None] == []


def test_nested_fields_are_reached_and_a_missing_tier_is_reported() -> None:
    class Inner(Model):
        tagged: str = essential()
        untagged: str

    class Outer(Model):
        items: tuple[Inner, ...] = restricted(())
        maybe: Inner | None = restricted(None)

    tiers = field_tiers(Outer)

    assert tiers["items"] is Tier.RESTRICTED
    assert tiers["items.tagged"] is Tier.ESSENTIAL
    assert tiers["items.untagged"] is None
    assert tiers["maybe.untagged"] is None


def _untiered(node: Any, path: str = "") -> list[str]:
    """Properties without ``x-sensitivity``, everywhere in a schema, ``$defs`` included."""
    if isinstance(node, list):
        return [p for item in node for p in _untiered(item, path)]
    if not isinstance(node, dict):
        return []
    missing = []
    for name, prop in node.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if SCHEMA_KEY not in prop and where not in {"type", "payload"}:
            missing.append(where)
        missing += _untiered(prop, where)
    for name, definition in node.get("$defs", {}).items():
        missing += _untiered(definition, f"$defs.{name}")
    for key in ("anyOf", "items", "additionalProperties"):
        if key == "anyOf" and "properties" in node:
            continue  # a rule about the object's own properties (x-rules aside), no new ones
        missing += _untiered(node.get(key), path)
    return missing


@pytest.mark.parametrize(
    "file", sorted(SCHEMAS.glob("*/v*.json")), ids=lambda p: p.parent.name + "/" + p.name
)
def test_every_property_of_a_published_contract_has_a_tier(file: Path) -> None:
    schema = json.loads(file.read_text())

    assert _untiered(schema) == []


def test_summaries_show_no_restricted_value() -> None:
    for event in demo_events(40, seed=3):
        restricted_values = _restricted_values(event.payload, field_tiers(type(event.payload)))
        summary = event.summary()
        assert not [v for v in restricted_values if v in summary], (event.type, summary)


def _restricted_values(payload: Model, tiers: dict[str, Tier | None]) -> list[str]:
    dumped = payload.model_dump(mode="json", exclude_none=True)
    found = []
    for path, tier in tiers.items():
        if tier is not Tier.RESTRICTED:
            continue
        value: Any = dumped
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) > 3:
            found.append(value)
    return found
