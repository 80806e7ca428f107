"""The demo data: deterministic, plausible, and covering the whole catalogue."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from events import EVENT_TYPES, Touchpoint, decode, encode
from events.touchpoints import ComplaintOpened, ComplaintResolved, PurchaseCompleted
from producers.demo import demo_events

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WRITTEN_BY_ERASURE_ONLY = {"customer.erased"}
"""Published by an erasure (privacy/erasure.py) after it shredded the keys: never demo data."""


@pytest.fixture(scope="module")
def events() -> list[Touchpoint]:
    return demo_events(300, now=NOW)


def test_every_type_in_the_catalogue_appears(events: list[Touchpoint]) -> None:
    assert {event.type for event in events} == set(EVENT_TYPES) - WRITTEN_BY_ERASURE_ONLY


def test_even_a_handful_of_customers_show_every_type() -> None:
    shown = {event.type for event in demo_events(1, now=NOW)}
    assert shown == set(EVENT_TYPES) - WRITTEN_BY_ERASURE_ONLY


def test_every_event_is_valid_and_survives_the_log(events: list[Touchpoint]) -> None:
    for event in events:
        assert decode(encode(event)) == event


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = [encode(e) for e in demo_events(20, now=NOW)]

    assert first == [encode(e) for e in demo_events(20, now=NOW)]
    assert first != [encode(e) for e in demo_events(20, seed=8, now=NOW)]


def test_oldest_first_all_in_the_past_ids_unique(events: list[Touchpoint]) -> None:
    times = [event.occurred_at for event in events]

    assert times == sorted(times)
    assert max(times) < NOW
    assert max(e.received_at for e in events if e.received_at) < NOW
    assert len({event.message_id for event in events}) == len(events)


def test_a_few_hundred_customers_across_units_and_channels(events: list[Touchpoint]) -> None:
    customers = {e.subject.customer_id for e in events if e.subject.customer_id}

    assert len([c for c in customers if re.fullmatch(r"C-1\d{5}", c)]) == 300
    assert {"retail", "appliances", "theatre"} <= {e.source.business_unit for e in events}
    assert len({e.source.channel for e in events}) >= 8


def test_subjects_mostly_carry_a_customer_id_some_only_a_channel_identifier(
    events: list[Touchpoint],
) -> None:
    share = Counter(bool(e.subject.customer_id) for e in events)[True] / len(events)
    only = [e.subject for e in events if not e.subject.customer_id]

    assert 0.6 < share < 0.95
    assert any(s.email and not s.phone for s in only)
    assert any(s.phone and not s.email for s in only)
    assert any(s.external_ids for s in only)
    assert all(re.fullmatch(r"\+[1-9]\d{6,14}", s.phone) for s in only if s.phone)


def test_complaints_open_before_they_resolve(events: list[Touchpoint]) -> None:
    opened = {e.payload.case_id: e.occurred_at for e in events if isinstance(e, ComplaintOpened)}
    resolved = [e for e in events if isinstance(e, ComplaintResolved)]

    assert resolved
    assert all(opened[e.payload.case_id] < e.occurred_at for e in resolved)


def test_purchases_have_lines_in_several_categories_and_currencies(
    events: list[Touchpoint],
) -> None:
    purchases = [e for e in events if isinstance(e, PurchaseCompleted)]
    categories = {line.category for p in purchases for line in p.payload.lines}
    by_customer: defaultdict[str, int] = defaultdict(int)
    for p in purchases:
        by_customer[p.subject.key()] += 1

    assert len(categories) >= 6
    assert {p.payload.currency for p in purchases} >= {"GBP", "EUR"}
    assert max(by_customer.values()) > 1


def test_emails_are_made_up_phones_one_per_customer(events: list[Touchpoint]) -> None:
    emails = {e.subject.email for e in events if e.subject.email}
    mobiles = {
        e.subject.customer_id: e.subject.phone
        for e in events
        if e.subject.phone and e.source.system == "customer-portal"
    }

    assert all(
        email.split("@")[1] in {"example.com", "example.org", "example.net"} for email in emails
    )
    assert len(mobiles) == 300
    assert len(set(mobiles.values())) == 300
