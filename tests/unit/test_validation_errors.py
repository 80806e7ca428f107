"""Rejections say where (the JSON path), what was expected, and what was given."""

from __future__ import annotations

import json
from typing import Any

import pytest

from events import FieldError, InvalidEvent, decode

SURVEY: dict[str, Any] = {
    "type": "survey.responded",
    "schema_version": 1,
    "occurred_at": "2026-03-02T10:15:00+01:00",
    "source": {"system": "survey-tool", "business_unit": "retail", "channel": "email"},
    "subject": {"customer_id": "C-100001"},
    "payload": {
        "survey_id": "SV-VISIT",
        "survey_name": "Your recent visit",
        "answers": [{"question_id": "q1", "question": "How easy was it?", "rating": 4}],
        "nps": 9,
    },
}
REFUND: dict[str, Any] = {
    **SURVEY,
    "type": "refund.issued",
    "payload": {
        "refund_id": "RF-1",
        "amount": "15.00",
        "currency": "EUR",
        "method": "card",
        "reason": "complaint",
    },
}


def rejection(doc: dict[str, Any]) -> list[FieldError]:
    with pytest.raises(InvalidEvent) as rejected:
        decode(json.dumps(doc))
    return rejected.value.errors


def with_payload(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**doc, "payload": {**doc["payload"], **changes}}


def test_the_examples_are_valid() -> None:
    assert decode(json.dumps(SURVEY)).summary() == "Answered survey 'Your recent visit', NPS 9"
    assert decode(json.dumps(REFUND)).summary() == "Refund of 15.00 EUR issued (complaint)"


def test_out_of_range_rating() -> None:
    answer = {"question_id": "q1", "question": "How easy was it?", "rating": 6}

    [error] = rejection(with_payload(SURVEY, answers=[answer]))

    assert error == FieldError(
        "payload.answers.0.rating", "Input should be less than or equal to 5", "6"
    )


def test_out_of_range_nps() -> None:
    [error] = rejection(with_payload(SURVEY, nps=11))

    assert (error.path, error.given) == ("payload.nps", "11")


def test_bad_currency() -> None:
    [error] = rejection(with_payload(REFUND, currency="euro"))

    assert error.path == "payload.currency"
    assert "^[A-Z]{3}$" in error.reason
    assert error.given == "'euro'"


def test_naive_datetime() -> None:
    [error] = rejection({**SURVEY, "occurred_at": "2026-03-02T10:15:00"})

    assert error == FieldError(
        "occurred_at", "Input should have timezone info", "'2026-03-02T10:15:00'"
    )


def test_missing_required_field() -> None:
    payload = {k: v for k, v in REFUND["payload"].items() if k != "amount"}

    [error] = rejection({**REFUND, "payload": payload})

    assert (error.path, error.reason) == ("payload.amount", "Field required")


def test_wrong_type() -> None:
    [error] = rejection(with_payload(REFUND, method=["card"]))

    assert error.path == "payload.method"
    assert "Input should be" in error.reason


def test_a_cross_field_rule_names_the_object_it_checks() -> None:
    [error] = rejection(with_payload(SURVEY, answers=[], nps=None))

    assert error.path == "payload"
    assert "needs answers or an nps score" in error.reason


def test_an_unknown_field_is_refused_not_dropped() -> None:
    [error] = rejection(with_payload(REFUND, amout="15.00"))

    assert (error.path, error.reason) == ("payload.amout", "Extra inputs are not permitted")
