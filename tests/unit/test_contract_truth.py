"""The contracts say what the models enforce: NUL, decimals, rules between fields."""

from __future__ import annotations

import argparse
import copy
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from events import InvalidEvent, contracts, from_mapping
from events.compatibility import breaking_changes
from events.conformance import Contracts, read_exactly
from events.corrections import excused
from touchlog.cli_schemas import DEFAULT_DIR, register

BASE: dict[str, Any] = {
    "type": "product.viewed",
    "schema_version": 1,
    "message_id": "m-1",
    "occurred_at": "2026-03-01T10:15:00+01:00",
    "source": {"system": "web-shop", "business_unit": "retail", "channel": "web"},
    "subject": {"email": "ann@example.com", "external_ids": [{"type": "loyalty", "id": "L-1"}]},
    "campaign": {"code": "SPRING"},
    "payload": {"sku": "SKU-1", "name": "Kettle", "category": "kitchen"},
}
PUBLISHED = Contracts.load(DEFAULT_DIR)


def _with(path: str, value: Any, base: dict[str, Any] = BASE) -> dict[str, Any]:
    document = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return document


def _refusal(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as refused:
        from_mapping(document)
    return {error.path: error.reason for error in refused.value.errors}


def _schema_accepts(document: dict[str, Any]) -> bool:
    return PUBLISHED.schema_errors(read_exactly(json.dumps(document))) == []


@pytest.mark.parametrize(
    "path",
    [
        "message_id",
        "source.system",
        "source.business_unit",
        "subject.email",
        "subject.external_ids.0.type",
        "subject.external_ids.0.id",
        "campaign.code",
        "payload.sku",
    ],
)
def test_a_nul_in_any_envelope_or_payload_string_is_refused_naming_the_path(path: str) -> None:
    document = _with(path, "ab\x00c")

    assert _refusal(document) == {
        path: "contains a NUL character (\\u0000), which cannot be stored"
    }
    assert not _schema_accepts(document)


def test_a_nul_in_free_text_and_in_dictionary_keys_and_values_is_refused() -> None:
    form = {
        **BASE,
        "type": "web_form.submitted",
        "payload": {"form_id": "f", "form_name": "Contact", "fields": {"na\x00me": "Ann"}},
    }
    assert "payload.fields.na\x00me.[key]" in _refusal(form)
    assert not _schema_accepts(form)

    form["payload"] = {"form_id": "f", "form_name": "Contact", "message": "hello\x00"}
    assert "NUL" in _refusal(form)["payload.message"]
    assert not _schema_accepts(form)


@pytest.mark.parametrize(
    ("properties", "inner"),
    [
        ({"colour": "r\x00ed"}, "colour: contains a NUL"),
        ({"items": [{"tag": "a\x00"}]}, "items.0.tag: contains a NUL"),
        ({"items": [{"ta\x00g": "a"}]}, "items.0 (a key): contains a NUL"),
        ({"note": "a\ud800b"}, "note: not Unicode text (a lone surrogate) (x-rule unicode-text)"),
    ],
)
def test_tracked_properties_are_checked_all_the_way_down(
    properties: dict[str, Any], inner: str
) -> None:
    tracked = {
        **BASE,
        "type": "event.tracked",
        "payload": {"name": "Video Played", "properties": properties},
    }
    assert inner in _refusal(tracked)["payload.properties"]


def test_a_lone_surrogate_and_a_date_beyond_utc_are_refused_as_their_x_rules_say() -> None:
    assert _refusal(_with("payload.name", "a\ud800")) == {
        "payload.name": "not Unicode text (a lone surrogate) (x-rule unicode-text)"
    }
    late = _refusal(_with("occurred_at", "9999-12-31T23:30:00-01:00"))
    assert late == {"occurred_at": "Value error, out of range once converted to UTC "
                    "(x-rule dates-in-range)"}  # fmt: skip
    names = {rule["name"] for rule in contracts.type_schema(type(from_mapping(BASE)))["x-rules"]}
    assert {"unicode-text", "dates-in-range"} <= names


@pytest.mark.parametrize(
    ("price", "accepted"),
    [
        (0.07, True),
        ("999999999999.99", True),
        (999999999999.99, True),
        (12, True),
        (0.071, False),
        (3.83e-253, False),
        (210412354110.57797, False),
        (1000000000000, False),
        ("0.071", False),
    ],
)
def test_money_is_constrained_alike_by_the_schema_read_exactly_and_the_model(
    price: Any, accepted: bool
) -> None:
    document = _with("payload.currency", "EUR", _with("payload.price", price))

    assert _schema_accepts(document) is accepted
    if accepted:
        from_mapping(document)
    else:
        assert "payload.price" in _refusal(document)


RULES = [
    ("subject", {"email": None}, "subject needs at least one of"),
    ("subject", {"external_ids": []}, "subject needs at least one of"),
    ("payload", {"sku": "s", "name": "n", "category": "c", "price": "5"}, "needs a currency"),
]


@pytest.mark.parametrize(("path", "value", "reason"), RULES)
def test_rules_between_fields_are_in_the_schema(path: str, value: Any, reason: str) -> None:
    document = _with(path, value)

    assert reason in _refusal(document)[path]
    assert not _schema_accepts(document)
    assert _schema_accepts(_with("payload.currency", "EUR", document)) is (path == "payload")


@pytest.mark.parametrize(
    ("type_name", "payload", "reason"),
    [
        ("profile.updated", {"name": None}, "needs at least one changed field"),
        ("survey.responded", {"survey_id": "s", "survey_name": "n", "answers": []}, "nps"),
        (
            "service.completed",
            {"job_id": "j", "service_type": "t", "completed_on": "2026-01-01", "charge": "9"},
            "charge needs a currency",
        ),
        (
            "complaint.resolved",
            {"case_id": "c", "resolution": "r", "resolved_by": "a", "compensation": 5},
            "compensation needs a currency",
        ),
        (
            "rewards.redeemed",
            {
                "programme": "p",
                "member_number": "m",
                "points": 5,
                "reward": "r",
                "reward_value": "1.5",
            },
            "reward_value needs a currency",
        ),
    ],
)
def test_each_rule_the_schema_can_say_it_says(
    type_name: str, payload: dict[str, Any], reason: str
) -> None:
    document = {**BASE, "type": type_name, "payload": payload}

    assert reason in _refusal(document)["payload"]
    assert not _schema_accepts(document)


X_RULES = [
    (
        "chat.transcript_recorded",
        "chat-ends-after-start",
        {
            "chat_id": "c",
            "started_at": "2026-01-01T10:00:00Z",
            "ended_at": "2026-01-01T09:00:00Z",
            "messages": [{"sender": "bot", "sent_at": "2026-01-01T10:00:00Z", "text": "hi"}],
        },
    ),
    (
        "service.completed",
        "next-service-after-this-one",
        {
            "job_id": "j",
            "service_type": "t",
            "completed_on": "2026-01-01",
            "next_due_on": "2025-01-01",
        },
    ),
    (
        "purchase.completed",
        "total-within-lines",
        {
            "order_id": "o",
            "lines": [{"sku": "s", "category": "c", "quantity": 1, "unit_price": "1.00"}],
            "currency": "EUR",
            "total": "2.00",
            "payment_method": "card",
        },
    ),
    (
        "customer.merged",
        "survivor-not-merged",
        {
            "surviving_customer_id": "a",
            "merged_customer_ids": ["a"],
            "reason": "r",
            "merged_by": "p",
        },
    ),
    (
        "customer.split",
        "split-to-a-new-customer",
        {
            "original_customer_id": "a",
            "new_customer_id": "a",
            "identifiers_moved": [{"type": "email", "value": "a@b.co"}],
            "reason": "r",
            "split_by": "p",
        },
    ),
    (
        "customer.merge_rejected",
        "two-customers",
        {"customer_id": "a", "other_customer_id": "a", "rejected_by": "p"},
    ),
]


@pytest.mark.parametrize(("type_name", "rule", "payload"), X_RULES)
def test_each_rule_the_schema_cannot_say_is_a_named_x_rule_the_model_enforces(
    type_name: str, rule: str, payload: dict[str, Any]
) -> None:
    document = {**BASE, "type": type_name, "payload": payload}
    contract = json.loads((DEFAULT_DIR / contracts.schema_path(type_name, 1)).read_text())

    assert _schema_accepts(document)
    assert rule in {entry["name"] for entry in contract["x-rules"]}
    assert _refusal(document)["payload"].endswith(f"(x-rule {rule})")
    jsonschema.Draft202012Validator.check_schema(contract)


def test_only_the_listed_corrections_are_excused_from_the_compatibility_check() -> None:
    published = json.loads((DEFAULT_DIR / "product.viewed/v1.json").read_text())
    narrower = copy.deepcopy(published)
    payload = narrower["$defs"]["ProductViewedPayload"]
    payload["properties"]["sku"]["pattern"] = "^[A-Z]+$"
    payload["dependentRequired"] = {"url": ["session_id"]}

    changes = breaking_changes(published, narrower)

    assert sorted(c.keyword or "" for c in changes) == ["dependentRequired", "pattern"]
    assert not any(excused(change) for change in changes)
    loosened_then_corrected = copy.deepcopy(published)
    loosened_then_corrected["$defs"]["Subject"].pop("anyOf")
    assert all(excused(c) for c in breaking_changes(loosened_then_corrected, published))


# --- touchlog schemas validate --------------------------------------------------------


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="touchlog")
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_validate_passes_a_good_json_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "events.json"
    file.write_text(
        json.dumps(
            [BASE, _with("payload.price", "2.50", _with("payload.currency", "EUR"))], indent=2
        )
    )

    assert run("schemas", "validate", str(file)) == 0
    assert capsys.readouterr().out == "2 valid, 0 invalid (product.viewed 2)\n"


def test_validate_reports_schema_and_x_rule_errors_per_line_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chat_type, _, chat = X_RULES[0]
    lines = [
        json.dumps(BASE),
        json.dumps(_with("source.system", "web\x00shop")),
        json.dumps(_with("payload.currency", "EUR", _with("payload.price", 0.071))),
        json.dumps({**BASE, "type": chat_type, "payload": chat}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))

    assert run("schemas", "validate", "-") == 1

    out, err = capsys.readouterr()
    assert out.startswith("1 valid, 3 invalid")
    assert "-:line 2: source.system: 'web\\x00shop' does not match" in err
    assert "source.system: contains a NUL character" in err
    assert "-:line 3: payload.price: 0.071 is not valid under any of the given schemas" in err
    assert "-:line 4: payload: Value error, ended_at is before started_at " in err
    assert "(x-rule chat-ends-after-start)" in err


def test_the_exact_reading_keeps_numbers_as_written() -> None:
    assert read_exactly('{"a": 0.07}') == {"a": Decimal("0.07")}
