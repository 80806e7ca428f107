"""Hypothesis strategies for event documents, drawn from the JSON Schema contracts.

Drawing from the contracts rather than the models tests what a producer in another
language sees: a document its contract accepts must be accepted by the reader. JSON
Schema cannot state some cross-field rules (a total within the lines' sum, see each
contract's ``x-rules``), and this generator does not follow the ones it can state (an
``anyOf`` beside an object's properties, ``if``/``then``), so ``FIXUPS`` make drawn
documents obey them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from events import EVENT_TYPES, contracts

Document = dict[str, Any]
Path = tuple[str | int, ...]

SCHEMAS: dict[str, Document] = {
    name: contracts.type_schema(cls) for name, cls in EVENT_TYPES.items()
}
CURRENCY_PATTERN = "^[A-Z]{3}$"
OFFSETS = (
    UTC,
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
)


def resolve(node: Document, root: Document) -> Document:
    while "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@cache
def documents(type_name: str) -> st.SearchStrategy[Document]:
    schema = SCHEMAS[type_name]
    fixup = FIXUPS.get(type_name, lambda doc: doc)
    return _node(schema, schema).map(lambda doc: fixup(_subject_fixup(doc)))


def alternatives(node: Document) -> bool:
    """An ``anyOf`` of alternatives (a union), not a rule beside an object's properties."""
    return "anyOf" in node and "type" not in node and "properties" not in node


def branches(node: Document, root: Document) -> list[Document]:
    """The alternatives of an ``anyOf``, but the sealed form of a personal field (a string
    only a producer holding the subject's key can make: ``privacy.sealing``)."""
    return [b for b in node["anyOf"] if not resolve(b, root).get("x-sealed")]


def _node(node: Document, root: Document) -> st.SearchStrategy[Any]:
    node = resolve(node, root)
    if alternatives(node):
        return st.one_of([_node(branch, root) for branch in branches(node, root)])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "string":
        return _string(node)
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31))
    if kind == "number":
        high = min(node.get("maximum", 10**6), 10**6)
        amounts = st.decimals(node.get("minimum", 0), high, places=2)
        return amounts.map(float)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        low = node.get("minItems", 0)
        high = min(node.get("maxItems", low + 3), low + 3)
        return st.lists(_node(node["items"], root), min_size=low, max_size=high)
    if kind == "object" and "properties" in node:
        required = set(node.get("required", ()))
        props = node["properties"]
        return st.fixed_dictionaries(
            {name: _node(sub, root) for name, sub in props.items() if name in required},
            optional={
                name: _node(sub, root) for name, sub in props.items() if name not in required
            },
        )
    if kind == "object":
        values = node.get("additionalProperties") or next(iter(node["patternProperties"].values()))
        keys = _string({"type": "string", **node.get("propertyNames", {})})
        return st.dictionaries(keys, _node(values, root), max_size=3)
    raise NotImplementedError(f"no strategy for {node}")


def _string(node: Document) -> st.SearchStrategy[str]:
    if node.get("format") == "date-time":
        # hypothesis takes naive bounds; ``timezones`` makes the values aware
        low, high = datetime(2000, 1, 1), datetime(2040, 1, 1)  # noqa: DTZ001
        moments = st.datetimes(low, high, timezones=st.sampled_from(OFFSETS))
        return moments.map(datetime.isoformat)
    if node.get("format") == "date":
        return st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat)
    low, high = node.get("minLength", 0), node.get("maxLength", math.inf)
    if pattern := node.get("pattern"):
        anchored = pattern.startswith("^") and pattern.endswith("$")
        drawn = st.from_regex(pattern, fullmatch=anchored)
        return drawn.filter(lambda text: low <= len(text) <= high)
    return st.text(min_size=low, max_size=int(min(high, low + 40)))


# --- cross-field rules ---------------------------------------------------------------


def _subject_fixup(doc: Document) -> Document:
    subject = doc["subject"]
    if not any(
        subject.get(key)
        for key in ("customer_id", "email", "phone", "external_ids", "anonymous_id")
    ):
        subject["customer_id"] = "cust-1"
    return doc


def _currencies(doc: Document) -> Document:
    payload = doc["payload"]
    for amount in ("compensation", "charge", "reward_value", "price"):
        if payload.get(amount) is not None and payload.get("currency") is None:
            payload["currency"] = "EUR"
    return doc


def _purchase(doc: Document) -> Document:
    payload = doc["payload"]
    lines = sum(Decimal(str(line["unit_price"])) * line["quantity"] for line in payload["lines"])
    if Decimal(str(payload["total"])) > lines:
        payload["total"] = str(lines)
    return doc


def _chat(doc: Document) -> Document:
    payload = doc["payload"]
    start, end = (datetime.fromisoformat(payload[key]) for key in ("started_at", "ended_at"))
    if end < start:
        payload["started_at"], payload["ended_at"] = payload["ended_at"], payload["started_at"]
    return doc


def _service(doc: Document) -> Document:
    payload = doc["payload"]
    due = payload.get("next_due_on")
    if due is not None and due <= payload["completed_on"]:
        del payload["next_due_on"]
    return _currencies(doc)


def _survey(doc: Document) -> Document:
    if not doc["payload"].get("answers") and doc["payload"].get("nps") is None:
        doc["payload"]["nps"] = 7
    return doc


def _profile(doc: Document) -> Document:
    if not any(value is not None for value in doc["payload"].values()):
        doc["payload"]["preferred_channel"] = "email"
    return doc


def _merge(doc: Document) -> Document:
    payload = doc["payload"]
    survivor = payload["surviving_customer_id"].strip()
    merged = [m for m in payload["merged_customer_ids"] if m.strip() != survivor]
    payload["merged_customer_ids"] = merged or ["x" if survivor != "x" else "y"]
    return doc


def _split(doc: Document) -> Document:
    payload = doc["payload"]
    if payload["new_customer_id"].strip() == payload["original_customer_id"].strip():
        payload["new_customer_id"] = "x" if payload["original_customer_id"].strip() != "x" else "y"
    return doc


def _rejected(doc: Document) -> Document:
    payload = doc["payload"]
    if payload["other_customer_id"].strip() == payload["customer_id"].strip():
        payload["other_customer_id"] = "x" if payload["customer_id"].strip() != "x" else "y"
    return doc


FIXUPS: dict[str, Callable[[Document], Document]] = {
    "purchase.completed": _purchase,
    "chat.transcript_recorded": _chat,
    "service.completed": _service,
    "complaint.resolved": _currencies,
    "rewards.redeemed": _currencies,
    "product.viewed": _currencies,
    "survey.responded": _survey,
    "profile.updated": _profile,
    "customer.merged": _merge,
    "customer.split": _split,
    "customer.merge_rejected": _rejected,
}


# --- walking a document beside its schema --------------------------------------------


def leaves(
    doc: Any, schema: Document, root: Document, path: Path = ()
) -> Iterator[tuple[Path, Document, Any]]:
    """Every value in ``doc`` with the schema that describes it, parents before children."""
    node = resolve(schema, root)
    if alternatives(node):
        node = resolve(_branch_for(doc, branches(node, root), root), root)
    yield path, node, doc
    if isinstance(doc, dict) and "properties" in node:
        for name, value in doc.items():
            yield from leaves(value, node["properties"][name], root, (*path, name))
    elif isinstance(doc, list) and "items" in node:
        for index, value in enumerate(doc):
            yield from leaves(value, node["items"], root, (*path, index))


JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _branch_for(value: Any, branches: list[Document], root: Document) -> Document:
    json_type = JSON_TYPES[type(value)]
    for branch in branches:
        if resolve(branch, root).get("type") == json_type:
            return branch
    return next(b for b in branches if resolve(b, root).get("type") != "null")


def dotted(path: Path) -> str:
    return ".".join(str(part) for part in path)


V1_CALL: Document = {
    "message_id": "legacy-call-1",
    "type": "call.logged",
    "schema_version": 1,
    "occurred_at": "2024-02-01T09:30:00+01:00",
    "source": {"system": "callcentre-legacy", "business_unit": "retail", "channel": "phone"},
    "subject": {"phone": "+447700900123"},
    "payload": {
        "direction": "inbound",
        "dialled_number": "+448081570000",
        "duration_seconds": 312,
        "notes": "Asked where order O-77 is. Courier delayed; promised a call back.",
        "agent_id": "agent-014",
    },
}
"""A call.logged as the call centre wrote it before v2: free-text notes only."""
