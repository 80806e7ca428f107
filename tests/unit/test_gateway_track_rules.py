"""Track rules: reading a mapping document, and what a rule makes of properties."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.gateway.track_rules import BUILTIN, RuleError, read_rules
from touchlog.config_files import load

CUSTOM = """
track:
  Callback Requested:
    type: enquiry.received
    payload:
      enquiry_id: request.id
      topic: {from: [topic, subject], default: callback}
      callback_requested: {value: true}
"""


def test_a_file_adds_rules_to_the_builtin_ones(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(CUSTOM)

    rules = load(path, read_rules)

    assert set(rules) == {*BUILTIN, "Callback Requested"}
    applied = rules["Callback Requested"].apply({"request": {"id": "R-1"}, "extra": 1})
    assert applied.payload == {
        "enquiry_id": "R-1",
        "topic": "callback",
        "callback_requested": True,
    }
    assert applied.used == {"request"}
    assert applied.origins["payload.enquiry_id"] == "properties.request.id"


def test_builtin_false_keeps_only_the_files_rules() -> None:
    rules = read_rules({"builtin": False, "track": {"X": {"type": "event.tracked"}}})

    assert set(rules) == {"X"}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"track": {"X": {"type": "no.such"}}}, "unknown type 'no.such'"),
        ({"track": {"X": {}}}, "needs a 'type'"),
        (
            {"track": {"X": {"type": "purchase.completed", "payload": {"oops": "a"}}}},
            "no payload field 'oops'",
        ),
        (
            {"track": {"X": {"type": "purchase.completed", "payload": {"total": {"fro": "a"}}}}},
            "unknown keys",
        ),
        (
            {"track": {"X": {"type": "purchase.completed", "payload": {"total": 3}}}},
            "expected a property",
        ),
        ({"tracks": {}}, "unknown sections"),
    ],
)
def test_a_bad_rule_is_refused_saying_which_and_why(document: object, says: str) -> None:
    with pytest.raises(RuleError, match=says):
        read_rules(document)


def test_list_fields_map_each_item_and_remember_where_from() -> None:
    applied = BUILTIN["Order Completed"].apply(
        {"products": [{"product_id": "S", "price": 3}, "junk"], "revenue": 3}
    )

    assert applied.payload["lines"] == [
        {"sku": "S", "category": "uncategorised", "quantity": 1, "unit_price": 3},
        "junk",
    ]
    assert applied.payload["total"] == 3
    assert applied.origins["payload.lines.0.sku"] == "properties.products.0.product_id"
    assert applied.origins["payload.lines.0.name"] == "properties.products.0.name"
    assert applied.origins["payload.order_id"] == "properties.order_id"
