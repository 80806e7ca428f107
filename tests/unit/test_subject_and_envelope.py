"""The envelope: identifiers, timestamps, clock skew, field-specific errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events import InvalidEvent, Subject, correct_clock_skew, from_mapping
from tests.factories import event_dict


def _errors(data: dict) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        from_mapping(data)
    return {e.path: e.reason for e in caught.value.errors}


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        ({"customer_id": "c-1", "email": "a@b.com", "phone": "+33628230455"}, "c-1"),
        (
            {"email": " Jane.Doe@Example.COM ", "phone": "+33628230455"},
            "email:jane.doe@example.com",
        ),
        (
            {"phone": "+33628230455", "external_ids": [{"type": "loyalty", "id": "L9"}]},
            "phone:+33628230455",
        ),
        (
            {"external_ids": [{"type": "loyalty", "id": "L9"}], "anonymous_id": "dev-1"},
            "external_id:loyalty:L9",
        ),
        ({"anonymous_id": "dev-1"}, "anonymous_id:dev-1"),
    ],
)
def test_subject_key_follows_identifier_priority(subject: dict, key: str) -> None:
    assert Subject.model_validate(subject).key() == key


def test_subject_without_any_identifier_is_rejected() -> None:
    errors = _errors({**event_dict(), "subject": {}})
    assert "subject needs at least one of" in errors["subject"]


@pytest.mark.parametrize(
    "phone", ["+33628230455", "06 28 23 04 55", "06.28.23.04.55", "+33 (0)6 28 23 04 55"]
)
def test_phone_is_kept_as_written(phone: str) -> None:
    event = from_mapping({**event_dict(), "subject": {"phone": phone}})
    assert event.subject.phone == phone


@pytest.mark.parametrize("phone", ["call me", "+33-6282x", "12", "++33628230455"])
def test_phone_that_is_not_a_phone_number_names_the_field(phone: str) -> None:
    assert "subject.phone" in _errors({**event_dict(), "subject": {"phone": phone}})


def test_phone_key_keeps_digits_only() -> None:
    assert Subject(phone="+33 (0)6 28 23 04 55").key() == "phone:+330628230455"


def test_naive_datetime_is_rejected_and_aware_ones_normalised_to_utc() -> None:
    assert "occurred_at" in _errors({**event_dict(), "occurred_at": "2026-03-01T10:00:00"})
    event = from_mapping({**event_dict(), "occurred_at": "2026-03-01T10:00:00+02:00"})
    assert event.occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_unknown_field_is_rejected_by_name() -> None:
    errors = _errors({**event_dict(), "ocurred_at": "2026-03-01T10:00:00Z"})
    assert "ocurred_at" in errors
    assert "Extra inputs are not permitted" in errors["ocurred_at"]


def test_message_id_is_generated_when_absent_and_bounded_when_given() -> None:
    first, second = from_mapping(event_dict()), from_mapping(event_dict())
    assert first.message_id
    assert first.message_id != second.message_id
    assert "message_id" in _errors({**event_dict(), "message_id": "x" * 101})


def test_unknown_channel_names_the_field() -> None:
    data = event_dict()
    data["source"]["channel"] = "pigeon"
    assert "source.channel" in _errors(data)


def test_events_are_immutable() -> None:
    event = from_mapping(event_dict())
    with pytest.raises(Exception, match="frozen"):
        event.message_id = "changed"  # type: ignore[misc]


def test_clock_skew_is_corrected_as_segment_does() -> None:
    device_now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # device clock is 1 h fast
    original = device_now - timedelta(minutes=5)  # recorded 5 min before sending
    received = datetime(2026, 1, 1, 11, 0, 2, tzinfo=UTC)
    corrected = correct_clock_skew(original, device_now, received)
    assert corrected == received - timedelta(minutes=5)
    assert correct_clock_skew(original, None, received) == original
