"""What a client sends is refused at the door when touchlog could not store it, naming the
field as sent; RudderStack's ``context.traits`` count on identify."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from events import Channel, InvalidEvent
from events.touchpoints import EventTracked, ProfileUpdated
from producers.gateway.limits import check_declared_length
from producers.gateway.native import native_submission
from producers.gateway.segment import segment_submission
from producers.gateway.sources import USER_ID_AS_CUSTOMER_ID, Source
from producers.gateway.track_rules import BUILTIN
from tests.factories import event_dict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP = Source("tlk_abcdefgh", "web-shop", "retail", Channel.WEB, "web-shop")
NUL = "\x00"


def _map(message: dict[str, Any], call: str, source: Source = SHOP) -> Any:
    return segment_submission(message, source, NOW, BUILTIN, call=call)


def _error_paths(message: dict[str, Any], call: str, source: Source = SHOP) -> set[str]:
    with pytest.raises(InvalidEvent) as rejected:
        _map(message, call, source)
    return {e.path for e in rejected.value.errors}


@pytest.mark.parametrize(
    ("call", "message", "path"),
    [
        ("track", {"messageId": f"m{NUL}1"}, "messageId"),
        ("track", {"userId": f"U{NUL}"}, "userId"),
        ("track", {"anonymousId": f"a{NUL}"}, "anonymousId"),
        ("track", {"properties": {"note": f"hi{NUL}"}}, "properties.note"),
        ("track", {"properties": {"tags": ["a", NUL]}}, "properties.tags.1"),
        ("track", {"properties": {f"no{NUL}te": "hi"}}, f"properties.no{NUL}te.[key]"),
        ("track", {"event": f"Video{NUL}Played"}, "event"),
        ("track", {"context": {"externalIds": [{"type": "card", "id": f"L{NUL}"}]}},
         "context.externalIds.0.id"),
        ("track", {"event": "Order Completed", "properties": {
            "order_id": f"O{NUL}", "total": 1, "currency": "EUR"}}, "properties.order_id"),
        ("identify", {"traits": {"firstName": f"Ann{NUL}", "lastName": "Lee"}},
         "traits.firstName"),
        ("identify", {"context": {"traits": {"lastName": f"Lee{NUL}"}}}, "context.traits.lastName"),
        ("identify", {"traits": {"plan": f"gold{NUL}"}}, "traits.plan"),
        ("group", {"groupId": "G", "traits": {"plan": NUL}}, "traits.plan"),
        ("page", {"name": f"Home{NUL}"}, "name"),
        ("alias", {"previousId": f"a{NUL}"}, "previousId"),
    ],
)  # fmt: skip
def test_a_nul_anywhere_a_touchpoint_holds_is_refused_naming_the_field_as_sent(
    call: str, message: dict[str, Any], path: str
) -> None:
    base = {"userId": "U-1", "event": "Video Played"} if call != "alias" else {"userId": "U-1"}
    assert path in _error_paths(base | message, call)


def test_a_nul_in_a_user_id_read_as_a_customer_id_names_user_id() -> None:
    by_customer_id = Source("tlk_x", "crm", "retail", Channel.WEB, USER_ID_AS_CUSTOMER_ID)

    assert _error_paths({"userId": f"C{NUL}1"}, "identify", by_customer_id) == {"userId"}


def test_a_native_event_with_a_nul_is_refused_naming_its_fields() -> None:
    event = event_dict("call.logged", message_id=f"n{NUL}1")
    del event["source"]
    event["subject"] = {"email": f"ann{NUL}@example.com"}

    with pytest.raises(InvalidEvent) as rejected:
        native_submission(event, SHOP, NOW)

    paths = {e.path for e in rejected.value.errors}
    assert {"message_id", "subject.email"} <= paths
    assert all("NUL" in e.reason for e in rejected.value.errors)


def test_identify_reads_context_traits_as_rudderstack_sends_them() -> None:
    message = {
        "userId": "ctx-1",
        "context": {"traits": {"email": "ctx-1@example.com", "firstName": "Ann", "plan": "pro"}},
    }

    mapped = _map(message, "identify")

    event = mapped.submission.event
    assert isinstance(event, ProfileUpdated)
    assert event.subject.email == "ctx-1@example.com"
    assert [e.address for e in event.payload.emails] == ["ctx-1@example.com"]
    assert mapped.ignored == ("context.traits.firstName", "context.traits.plan")


def test_top_level_traits_win_over_context_traits_key_by_key() -> None:
    message = {
        "userId": "U-1",
        "traits": {"email": "own@example.com", "lastName": "Lee"},
        "context": {"traits": {"email": "context@example.com", "firstName": "Ann"}},
    }

    event = _map(message, "identify").submission.event

    assert isinstance(event, ProfileUpdated)
    assert event.subject.email == "own@example.com"
    assert event.payload.name is not None
    assert (event.payload.name.given_name, event.payload.name.family_name) == ("Ann", "Lee")


def test_an_invalid_context_trait_on_identify_is_named_where_it_was_sent() -> None:
    paths = _error_paths({"userId": "U", "context": {"traits": {"email": "nope"}}}, "identify")

    assert "context.traits.email" in paths


def test_identify_with_only_other_context_traits_keeps_them_as_a_tracked_identify() -> None:
    message = {"userId": "U", "traits": {"plan": "pro"}, "context": {"traits": {"seats": 3}}}

    event = _map(message, "identify").submission.event

    assert isinstance(event, EventTracked)
    assert event.payload.properties == {"seats": 3, "plan": "pro"}
    deep = {"userId": "U", "context": {"traits": {"a": {"b": {"c": {"d": {"e": 1}}}}}}}
    assert _error_paths(deep, "identify") == {"context.traits.a.b.c.d"}


def test_context_traits_on_track_are_a_hint_and_the_rest_is_listed_as_ignored() -> None:
    message = {
        "userId": "U",
        "event": "Video Played",
        "context": {"traits": {"email": "ann@example.com", "phone": f"06{NUL}", "plan": "pro"}},
    }

    mapped = _map(message, "track")

    assert mapped.submission.event.subject.email == "ann@example.com"
    assert mapped.ignored == ("context.traits.phone", "context.traits.plan")


@pytest.mark.parametrize("header", ["²", "١٢", "12a", "-1"])
def test_a_content_length_that_is_not_ascii_digits_is_left_to_the_body_limit(
    header: str,
) -> None:
    check_declared_length(header, 10, "event")  # no ValueError: the body is measured
