"""Which touchpoint type a Segment ``track`` event name becomes, and how its properties map.

A rule names a type and, for each payload field, where its value comes from::

    Order Completed:
      type: purchase.completed
      payload:
        order_id: order_id                  # a property (dotted paths reach inside)
        total: [total, revenue]             # the first one present
        payment_method: {from: payment_method, default: card}
        lines:                              # a list, one item per element of a property
          each: products
          fields: {sku: [sku, product_id], quantity: {from: quantity, default: 1}}

``{value: X}`` is a constant. A name without a rule is kept as ``event.tracked``.
``TOUCHLOG_GATEWAY_TRACK_MAPPING`` names a YAML file with a ``track:`` section of rules,
which add to (or replace, by name) the built-in ones of Segment's e-commerce spec;
``builtin: false`` in the file drops those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events import EVENT_TYPES
from events.documents import DocumentError

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class FieldRule:
    sources: tuple[str, ...]
    default: Any = _MISSING

    def pick(self, properties: Mapping[str, Any]) -> tuple[Any, str | None]:
        """(value, the property it came from); ``_MISSING`` when absent with no default."""
        for path in self.sources:
            value = lookup(properties, path)
            if value is not None:
                return value, path
        return self.default, None


@dataclass(frozen=True, slots=True)
class ListRule:
    each: str
    fields: Mapping[str, FieldRule]


@dataclass(frozen=True, slots=True)
class Applied:
    payload: dict[str, Any]
    origins: dict[str, str]
    """Payload path → the property path it came from, to name the property in errors."""
    used: frozenset[str]
    """Top-level properties the rule read."""


@dataclass(frozen=True, slots=True)
class TrackRule:
    type: str
    payload: Mapping[str, FieldRule | ListRule] = field(default_factory=dict)

    def apply(self, properties: Mapping[str, Any], at: str = "properties") -> Applied:
        payload: dict[str, Any] = {}
        origins: dict[str, str] = {"payload": at}
        used: set[str] = set()
        for name, rule in self.payload.items():
            if isinstance(rule, ListRule):
                origins[f"payload.{name}"] = f"{at}.{rule.each}"
                items = lookup(properties, rule.each)
                if items is None:
                    continue
                used.add(_top(rule.each))
                payload[name] = _map_items(
                    items, rule, f"payload.{name}", f"{at}.{rule.each}", origins
                )
                continue
            value, source = rule.pick(properties)
            named = source or (rule.sources[0] if rule.sources else None)
            origins[f"payload.{name}"] = f"{at}.{named}" if named else f"(rule for {self.type})"
            if source is not None:
                used.add(_top(source))
            if value is not _MISSING:
                payload[name] = value
        return Applied(payload, origins, frozenset(used))


def _map_items(
    items: Any, rule: ListRule, payload_path: str, property_path: str, origins: dict[str, str]
) -> Any:
    if not isinstance(items, list):
        return items  # validation names it: "should be a valid list"
    mapped: list[Any] = []
    for index, item in enumerate(items):
        origins[f"{payload_path}.{index}"] = f"{property_path}.{index}"
        if not isinstance(item, Mapping):
            mapped.append(item)
            continue
        fields: dict[str, Any] = {}
        for name, field_rule in rule.fields.items():
            value, source = field_rule.pick(item)
            named = source or (field_rule.sources[0] if field_rule.sources else name)
            origins[f"{payload_path}.{index}.{name}"] = f"{property_path}.{index}.{named}"
            if value is not _MISSING:
                fields[name] = value
        mapped.append(fields)
    return mapped


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """``data``'s value at a dotted path, or None."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _top(path: str) -> str:
    return path.split(".", 1)[0]


# --- reading rules -----------------------------------------------------------------------


class RuleError(DocumentError):
    """A mapping file that cannot be used: says which rule and why."""

    def __init__(self, problem: str, origin: str = "track mapping") -> None:
        super().__init__(origin, [problem])


def _field_rule(spec: Any, where: str) -> FieldRule:
    if isinstance(spec, str):
        return FieldRule((spec,))
    if isinstance(spec, list) and spec and all(isinstance(s, str) for s in spec):
        return FieldRule(tuple(spec))
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"from", "default", "value"}
        if unknown:
            raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
        if "value" in spec:
            return FieldRule((), spec["value"])
        sources = spec.get("from")
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise RuleError(f"{where}: 'from' must name a property or a list of them")
        return FieldRule(tuple(sources), spec.get("default", _MISSING))
    raise RuleError(f"{where}: expected a property name, a list of them, or a mapping")


def _rule(name: str, spec: Any) -> TrackRule:
    where = f"track rule '{name}'"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise RuleError(f"{where}: needs a 'type'")
    type_name = spec["type"]
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise RuleError(f"{where}: unknown type '{type_name}'")
    payload_fields = cls.model_fields["payload"].annotation.model_fields  # type: ignore[union-attr]
    fields: dict[str, FieldRule | ListRule] = {}
    for field_name, field_spec in (spec.get("payload") or {}).items():
        if field_name not in payload_fields:
            known = ", ".join(payload_fields)
            raise RuleError(f"{where}: {type_name} has no payload field '{field_name}' ({known})")
        at = f"{where}, payload.{field_name}"
        if isinstance(field_spec, Mapping) and "each" in field_spec:
            item_specs = field_spec.get("fields")
            if not isinstance(field_spec["each"], str) or not isinstance(item_specs, Mapping):
                raise RuleError(f"{at}: 'each' names a property, 'fields' maps the items")
            fields[field_name] = ListRule(
                field_spec["each"],
                {k: _field_rule(v, f"{at}.{k}") for k, v in item_specs.items()},
            )
        else:
            fields[field_name] = _field_rule(field_spec, at)
    unknown = set(spec) - {"type", "payload"}
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
    return TrackRule(type_name, fields)


def read_rules(document: Any, origin: str = "track mapping") -> dict[str, TrackRule]:
    """The built-in rules, with those of a mapping document
    (``{track: {name: rule}, builtin: bool}``)."""
    try:
        return _read_rules(document)
    except RuleError as exc:
        raise RuleError(exc.problems[0], origin) from None


def _read_rules(document: Any) -> dict[str, TrackRule]:
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise RuleError("a track mapping is a YAML mapping with a 'track' section")
    unknown = set(document) - {"track", "builtin"}
    if unknown:
        raise RuleError(f"unknown sections {sorted(unknown)}: expected 'track' and 'builtin'")
    track = document.get("track") or {}
    if not isinstance(track, Mapping):
        raise RuleError("'track' maps event names to rules")
    rules = dict(BUILTIN) if document.get("builtin", True) else {}
    rules.update({str(name): _rule(str(name), spec) for name, spec in track.items()})
    return rules


# Segment's e-commerce spec (https://segment.com/docs/connections/spec/ecommerce/v2/).
_BUILTIN_DOCUMENT: dict[str, Any] = {
    "Order Completed": {
        "type": "purchase.completed",
        "payload": {
            "order_id": ["order_id", "checkout_id"],
            "currency": "currency",
            "total": ["total", "revenue"],
            "payment_method": {"from": "payment_method", "default": "card"},
            "promotion_code": "coupon",
            "store_id": "store_id",
            "lines": {
                "each": "products",
                "fields": {
                    "sku": ["sku", "product_id"],
                    "name": "name",
                    "category": {"from": "category", "default": "uncategorised"},
                    "quantity": {"from": "quantity", "default": 1},
                    "unit_price": "price",
                },
            },
        },
    },
    "Product Viewed": {
        "type": "product.viewed",
        "payload": {
            "sku": ["sku", "product_id"],
            "name": "name",
            "category": {"from": "category", "default": "uncategorised"},
            "price": "price",
            "currency": "currency",
            "url": "url",
        },
    },
}
BUILTIN: dict[str, TrackRule] = {
    name: _rule(name, spec) for name, spec in _BUILTIN_DOCUMENT.items()
}
