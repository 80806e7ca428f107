"""Segment messages → touchpoints: field names, mapping, identifiers, skew, error paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events import Channel, InvalidEvent
from events.touchpoints import EventTracked, IdentityLinked, ProfileUpdated, PurchaseCompleted
from producers.gateway.segment import merge_context, segment_submission
from producers.gateway.sources import USER_ID_AS_CUSTOMER_ID, Source
from producers.gateway.track_rules import BUILTIN

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP = Source("tlk_abcdefgh", "web-shop", "retail", Channel.WEB, "web-shop")


def _map(message: dict[str, Any], call: str | None = None, source: Source = SHOP, **kw: Any):
    return segment_submission(message, source, NOW, BUILTIN, call=call, **kw)


def _errors(message: dict[str, Any], call: str | None = None) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as rejected:
        _map(message, call)
    return {e.path: e.reason for e in rejected.value.errors}


ORDER: dict[str, Any] = {
    "type": "track",
    "messageId": "m-1",
    "userId": "U-42",
    "event": "Order Completed",
    "timestamp": "2026-03-01T11:00:00Z",
    "properties": {
        "order_id": "O-9",
        "total": 27.5,
        "currency": "EUR",
        "coupon": "SPRING",
        "affiliation": "web",
        "products": [
            {"product_id": "SKU-1", "name": "Kettle", "price": 20, "quantity": 1},
            {"sku": "SKU-2", "name": "Mug", "category": "kitchen", "price": 7.5},
        ],
    },
}


def test_a_mapped_track_event_becomes_its_type_with_properties_mapped() -> None:
    mapped = _map(ORDER)
    event = mapped.submission.event

    assert isinstance(event, PurchaseCompleted)
    assert event.payload.order_id == "O-9"
    assert [(line.sku, line.quantity, line.category) for line in event.payload.lines] == [
        ("SKU-1", 1, "uncategorised"),
        ("SKU-2", 1, "kitchen"),
    ]
    assert event.payload.promotion_code == "SPRING"
    assert event.payload.payment_method.value == "card"
    assert event.message_id == "m-1"
    assert mapped.submission.deduplicate
    assert mapped.ignored == ("properties.affiliation",)
    assert event.subject.external_ids[0].model_dump() == {"type": "web-shop", "id": "U-42"}
    assert event.source.model_dump(mode="json") == {
        "system": "web-shop",
        "business_unit": "retail",
        "channel": "web",
    }


def test_an_unmapped_name_is_kept_as_a_tracked_event_with_its_properties() -> None:
    message = {
        "userId": "U-1",
        "event": "Video Played",
        "properties": {"video": {"id": 7, "tags": ["a", "b"]}, "seconds": 12.5},
    }

    event = _map(message, "track").submission.event

    assert isinstance(event, EventTracked)
    assert event.payload.name == "Video Played"
    assert event.payload.properties == {"video": {"id": 7, "tags": ["a", "b"]}, "seconds": 12.5}
    assert event.summary() == "Tracked 'Video Played'"


def test_mapped_property_errors_name_the_property_as_sent() -> None:
    bad = {**ORDER, "properties": {**ORDER["properties"]}}
    bad["properties"]["products"] = [{"product_id": "SKU-1", "name": "Kettle", "price": "free"}]
    del bad["properties"]["order_id"]

    errors = _errors(bad)

    assert "properties.order_id" in errors
    assert "properties.products.0.price" in errors


def test_identify_traits_become_a_profile_update_and_name_the_subject() -> None:
    message = {
        "userId": "U-42",
        "anonymousId": "anon-7",
        "traits": {
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "Ann.Lee@example.com",
            "phone": "06 28 23 04 55",
            "address": {
                "street": "1 Rue X",
                "city": "Lyon",
                "postalCode": "69001",
                "country": "FR",
            },
            "birthday": "1980-04-02T00:00:00.000Z",
            "plan": "premium",
        },
    }

    mapped = _map(message, "identify")
    event = mapped.submission.event

    assert isinstance(event, ProfileUpdated)
    assert event.payload.name is not None
    assert (event.payload.name.given_name, event.payload.name.family_name) == ("Ann", "Lee")
    assert [e.address for e in event.payload.emails or ()] == ["Ann.Lee@example.com"]
    assert [a.locality for a in event.payload.addresses or ()] == ["Lyon"]
    assert str(event.payload.date_of_birth) == "1980-04-02"
    assert event.subject.email == "Ann.Lee@example.com"
    assert event.subject.phone == "06 28 23 04 55"
    assert event.subject.anonymous_id == "anon-7"
    assert mapped.ignored == ("traits.plan",)


def test_identify_without_profile_traits_is_kept_as_a_tracked_identify() -> None:
    event = _map({"userId": "U-1", "traits": {"plan": "pro"}}, "identify").submission.event

    assert isinstance(event, EventTracked)
    assert (event.payload.call.value, event.payload.properties) == ("identify", {"plan": "pro"})


def test_an_invalid_trait_rejects_the_identify_naming_the_trait() -> None:
    errors = _errors({"userId": "U-1", "traits": {"email": "not-an-email"}}, "identify")

    assert "traits.email" in errors


def test_alias_links_the_previous_id_to_the_user() -> None:
    event = _map({"userId": "U-42", "previousId": "anon-7"}, "alias").submission.event

    assert isinstance(event, IdentityLinked)
    assert event.subject.anonymous_id == "anon-7"
    assert event.subject.external_ids[0].id == "U-42"
    assert event.payload.identifier.value == "anon-7"


def test_a_source_may_declare_its_user_ids_customer_ids() -> None:
    crm = Source("tlk_12345678", "crm", "retail", Channel.PHONE, USER_ID_AS_CUSTOMER_ID)

    event = _map({"userId": "C-1", "event": "Called"}, "track", source=crm).submission.event

    assert event.subject.customer_id == "C-1"
    assert event.source.channel is Channel.PHONE


def test_external_ids_and_context_traits_name_the_subject() -> None:
    message = {
        "anonymousId": "a-1",
        "event": "Signed Up",
        "context": {
            "externalIds": [{"id": "L-77", "type": "loyalty_card", "collection": "users"}],
            "traits": {"email": "ann@example.com", "phone": "not a phone"},
        },
    }

    mapped = _map(message, "track")

    subject = mapped.submission.event.subject
    assert [(x.type, x.id) for x in subject.external_ids] == [("loyalty_card", "L-77")]
    assert subject.email == "ann@example.com"
    assert subject.phone is None
    assert mapped.ignored == ("context.traits.phone",)


def test_page_screen_and_group_are_kept_as_tracked_events() -> None:
    page = _map({"anonymousId": "a", "name": "Home", "properties": {"url": "x"}}, "page")
    screen = _map({"anonymousId": "a"}, "screen")
    group = _map({"anonymousId": "a", "groupId": 12, "traits": {"plan": "b2b"}}, "group")

    assert page.submission.event.summary() == "Tracked page 'Home'"
    assert screen.submission.event.payload.name == "Screen Viewed"
    assert group.submission.event.payload.properties == {
        "group_id": "12",
        "traits": {"plan": "b2b"},
    }


def test_timestamp_is_skew_corrected_with_sent_at_of_the_message_or_the_batch() -> None:
    # The device's clock is an hour slow; it recorded the event 5 minutes before sending.
    message = {"userId": "U", "event": "E", "timestamp": "2026-03-01T10:55:00+00:00"}

    own = _map({**message, "sentAt": "2026-03-01T11:00:00Z"}, "track").submission.event
    batch = _map({**message, "type": "track"}, sent_at="2026-03-01T11:00:00Z").submission.event
    none = _map(message, "track").submission.event

    assert own.occurred_at == NOW - timedelta(minutes=5)
    assert batch.occurred_at == NOW - timedelta(minutes=5)
    assert none.occurred_at == datetime(2026, 3, 1, 10, 55, tzinfo=UTC)
    assert _map({"userId": "U", "event": "E"}, "track").submission.event.occurred_at == NOW


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"userId": None}, "userId", "userId or anonymousId is required"),
        ({"event": ""}, "event", "is required"),
        ({"timestamp": "yesterday"}, "timestamp", "not an ISO 8601"),
        ({"timestamp": "2026-03-01T10:00:00"}, "timestamp", "needs a UTC offset"),
        ({"timestamp": 1700000000}, "timestamp", "must be an ISO 8601"),
        ({"sentAt": "soon"}, "sentAt", "not an ISO 8601"),
        ({"timestamp": "2026-03-05T10:00:00Z"}, "timestamp", "after the gateway received"),
        ({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-01-01T00:00:00Z"}, "timestamp", ""),
        ({"messageId": "x" * 101}, "messageId", "at most 100"),
        ({"properties": [1]}, "properties", "must be a JSON object"),
        ({"context": "web"}, "context", "must be a JSON object"),
        (
            {"properties": {"a": {"b": [{"c": {"d": 1}}]}}},
            "properties.a.b.0.c",
            "nested more than 3",
        ),
    ],
)
def test_bad_messages_are_rejected_naming_the_field(
    change: dict[str, Any], path: str, reason: str
) -> None:
    message = {"userId": "U", "event": "E"} | change

    errors = _errors(message, "track")

    assert path in errors, errors
    assert reason in errors[path]


def test_a_batch_item_must_say_its_type() -> None:
    assert "type" in _errors({"userId": "U", "event": "E"})
    assert "must be one of" in _errors({"type": "explode", "userId": "U"})["type"]


def test_alias_needs_both_ids() -> None:
    assert set(_errors({"userId": "U"}, "alias")) == {"previousId"}


def test_a_generated_message_id_is_not_deduplicated() -> None:
    mapped = _map({"userId": "U", "event": "E"}, "track")

    assert mapped.submission.event.message_id
    assert not mapped.submission.deduplicate


def test_batch_context_is_merged_under_the_messages_own() -> None:
    merged = merge_context(
        {"library": {"name": "x", "version": "1"}, "ip": "1.2.3.4"},
        {"library": {"version": "2"}, "locale": "fr"},
    )

    assert merged == {"library": {"name": "x", "version": "2"}, "ip": "1.2.3.4", "locale": "fr"}
