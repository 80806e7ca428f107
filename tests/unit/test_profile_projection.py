"""The profile projection: events → history rows; rows → a profile at any moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events import Tier, field_tiers
from events.resolved import Resolved
from events.touchpoints import ProfileUpdatedPayload, PurchaseCompletedPayload
from projections.profile import BY_NAME, FIELDS, field_named, history, profile_of, project_all
from projections.profile.fields import RANK, tier_from
from projections.profile.search import lookups, terms_of
from tests.factories import BASE_TIME
from tests.profile_support import ADDRESSES, full_profile_events, touch

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _address(postal_code: str, at: datetime, message_id: str, customer: str = "c-1"):
    address = {**ADDRESSES[0][0], "postal_code": postal_code}
    return touch(
        "profile.updated", {"addresses": [address]}, at=at, message_id=message_id, customer=customer
    )


def _codes(value) -> list[str]:
    return [a["postal_code"] for a in value]


def test_a_late_event_lands_in_its_place_in_history_and_the_newest_value_stays_current() -> None:
    first = _address("75001", BASE_TIME, "m1")
    newest = _address("75011", BASE_TIME + timedelta(days=20), "m2")
    late = _address("69001", BASE_TIME + timedelta(days=10), "m3")  # arrives last
    facts = project_all([first, newest, late])

    assert _codes(profile_of(facts, None, NOW).values["addresses"]) == ["75011"]
    as_of = BASE_TIME + timedelta(days=15)
    assert _codes(profile_of(facts, as_of, NOW).values["addresses"]) == ["69001"]
    entries = history(BY_NAME["addresses"], facts)
    assert [(_codes(e.value), e.valid_from, e.valid_to, e.message_id) for e in entries] == [
        (["75001"], BASE_TIME, late.occurred_at, "m1"),
        (["69001"], late.occurred_at, newest.occurred_at, "m3"),
        (["75011"], newest.occurred_at, None, "m2"),
    ]


def test_merged_customers_unite_newest_value_wins_and_histories_are_united() -> None:
    survivor = [_address("75001", BASE_TIME, "s1", "c-1")]
    merged = [_address("13001", BASE_TIME + timedelta(days=5), "m1", "c-2")]
    again = Resolved(customer_id="c-1", event=merged[0])  # the same event under both ids
    facts = project_all([*survivor, *merged, again])

    assert _codes(profile_of(facts, None, NOW).values["addresses"]) == ["13001"]
    assert [e.message_id for e in history(BY_NAME["addresses"], facts)] == ["s1", "m1"]
    assert profile_of(facts, None, NOW).values["customer_since"] == BASE_TIME.isoformat()


def test_resolved_events_go_under_their_customer_and_identity_bookkeeping_states_nothing() -> None:
    event = _address("75001", BASE_TIME, "m1", customer="as-sent")
    [fact, *_] = project_all([Resolved(customer_id="C-9", event=event)])
    assert fact.customer_id == "C-9"
    merge = touch(
        "customer.merged",
        {
            "surviving_customer_id": "C-1",
            "merged_customer_ids": ["C-2"],
            "reason": "duplicate",
            "merged_by": "rep",
        },
        at=BASE_TIME,
        message_id="x",
        channel="app",
    )
    assert project_all([merge]) == []


def test_every_field_is_filled_by_the_full_customer() -> None:
    values = profile_of(project_all(full_profile_events()), None, NOW).values
    assert set(values) == set(BY_NAME)
    assert [name for name, value in values.items() if value in (None, [], {})] == []


def test_field_tiers_come_from_the_payload_fields_they_are_read_from() -> None:
    assert BY_NAME["title"].tier is Tier.ESSENTIAL
    assert BY_NAME["consents"].tier is Tier.ESSENTIAL
    assert BY_NAME["dispatch_instructions"].tier is Tier.SERVICE
    assert BY_NAME["lifetime_spend"].tier is Tier.SERVICE
    assert BY_NAME["date_of_birth"].tier is Tier.RESTRICTED
    assert BY_NAME["age_band"].tier is Tier.RESTRICTED
    for field in FIELDS:
        for model, path in field.sources:
            tier = field_tiers(model)[path]
            assert tier is not None
            assert RANK[field.tier] >= RANK[tier], (field.name, path)
    explicit = {f.name: f.tier for f in FIELDS if not f.sources}
    assert explicit == {
        "customer_since": Tier.SERVICE,
        "tenure_days": Tier.SERVICE,
        "orders": Tier.SERVICE,
        "average_order": Tier.SERVICE,
        "last_contact": Tier.SERVICE,
        "preferred_channel_observed": Tier.SERVICE,
        "satisfaction_average": Tier.SERVICE,
        "segments": Tier.SERVICE,
        "survey_cooperativeness": Tier.RESTRICTED,
    }


def test_a_source_without_a_tier_is_refused() -> None:
    assert tier_from((PurchaseCompletedPayload, "lines.sku")) is Tier.SERVICE
    with pytest.raises(ValueError, match="no sensitivity tier"):
        tier_from((ProfileUpdatedPayload, "name.nickname"))


def test_fields_are_found_by_singular_names() -> None:
    assert field_named("address") is BY_NAME["addresses"]
    assert field_named("email") is BY_NAME["emails"]
    assert field_named("consent") is BY_NAME["consents"]
    assert field_named("shoe_size") is None


def test_time_only_fields_are_taken_at_the_moment_asked() -> None:
    facts = project_all(full_profile_events())
    at = BASE_TIME + timedelta(days=30)
    values = profile_of(facts, at, NOW).values
    assert values["tenure_days"] == 30
    assert values["age"] == 64  # born 1961-07-14, asked in 2026
    [case] = values["open_complaints"]
    assert case["age_days"] == 26


def test_search_terms_and_readings_of_a_query() -> None:
    facts = project_all(full_profile_events())
    terms = {t for fact in facts for t in terms_of(fact, "FR")}
    assert {("name", "siobhan"), ("name", "niamh"), ("email", "ann@example.com")} <= terms
    assert {("phone", "+33145678910"), ("phone", "+33612345678"), ("postcode", "75011")} <= terms
    readings = lookups("06 12 34 56 78", "FR")
    assert [r.term for [r] in readings[:1]] == ["+33612345678"]
    assert [(r.kind, r.term, r.prefix) for r in lookups("Siob Niamh", "FR")[-1]] == [
        ("name", "siob", True),
        ("name", "niamh", True),
    ]
    assert lookups("ANN@example.com", "FR")[0][0].term == "ann@example.com"
