"""Per-customer limits (Segment Unify): an identifier that would give one customer more
values of a kind than allowed is neither matched on nor linked, and is reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from events import ExternalId, Subject
from projections.identity import Customer, EventRef, IdentityGraph, IdentityRules
from projections.identity.graph import SHARED_REASON

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LANDLINE = "phone:+33140506070"
SHOP = "phone:+33145000000"


def ref(n: int) -> EventRef:
    return EventRef("crm", f"m-{n}", T0 + timedelta(minutes=n))


def subject(external_ids: tuple[tuple[str, str], ...] = (), **fields: Any) -> Subject:
    externals = tuple(ExternalId(type=t, id=i) for t, i in external_ids)
    return Subject.model_construct(external_ids=externals, **fields)


def customers(*ids: str) -> list[Customer]:
    return [Customer(c, T0 + timedelta(minutes=i), f"born-{c}") for i, c in enumerate(ids)]


def test_a_household_landline_shared_by_two_people_keeps_them_apart() -> None:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(subject(email="ann@x.com", phone="01 40 50 60 70"), ref(1)).customer_id
    bob = graph.resolve(subject(email="bob@x.com", phone="01.40.50.60.70"), ref(2))
    assert bob.customer_id != ann
    assert bob.merges == ()
    reason = f"{SHARED_REASON}: would give customer {ann} a second email (limit 1)"
    assert bob.not_matched == ((LANDLINE, reason),)
    # found shared: it matches nobody, and leads to both (a caller lookup lists them)
    assert graph.shared(LANDLINE)
    assert bob.new_links == (("email:bob@x.com", bob.customer_id), (LANDLINE, bob.customer_id))
    assert graph.customers_of(LANDLINE) == {ann, bob.customer_id}
    # the same again (a replay, or Bob calling back with his email) stays on Bob
    again = graph.resolve(subject(email="bob@x.com", phone="0140506070"), ref(3))
    assert again.customer_id == bob.customer_id
    assert again.not_matched == ((LANDLINE, SHARED_REASON),)


def test_a_shop_phone_typed_on_every_walk_in_merges_nobody() -> None:
    graph = IdentityGraph(IdentityRules())
    walk_ins = [
        graph.resolve(subject(email=f"walk{n}@x.com", phone="01 45 00 00 00"), ref(n))
        for n in range(1, 6)
    ]
    ids = [r.customer_id for r in walk_ins]
    assert len(set(ids)) == 5
    assert all(r.merges == () for r in walk_ins)
    assert all(r.not_matched == () for r in walk_ins[:1])
    assert all([key for key, _ in r.not_matched] == [SHOP] for r in walk_ins[1:])
    assert graph.customers_of(SHOP) == set(ids)  # shared from the second walk-in on
    assert not graph.changes().merges


def test_the_same_persons_email_in_another_case_and_their_phone_is_one_customer() -> None:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(subject(email="ann@x.com", phone="06 28 23 04 55"), ref(1)).customer_id
    again = graph.resolve(subject(email=" ANN@X.Com", phone="+33 6 28 23 04 55"), ref(2))
    assert again.customer_id == ann
    assert again.not_matched == ()
    assert again.new_links == ()


def test_a_person_with_two_emails_and_one_phone_stays_two_customers() -> None:
    """Precision over recall: a person confirms the duplicate (``merge``) if it is one."""
    graph = IdentityGraph(IdentityRules())
    work = graph.resolve(subject(email="ann@work.com", phone="06 28 23 04 55"), ref(1))
    home = graph.resolve(subject(email="ann@home.org", phone="06 28 23 04 55"), ref(2))
    assert home.customer_id != work.customer_id
    assert home.merges == ()
    # once confirmed, both emails lead to the one customer, which keeps both
    graph.merge(work.customer_id, [home.customer_id], "confirmed by a person")
    for email in ("ann@work.com", "ann@home.org"):
        resolution = graph.resolve(subject(email=email, phone="0628230455"), ref(3))
        assert resolution.customer_id == work.customer_id
        # the phone was found on two emails: shared, precision first, until a person
        # confirms it is one person's number
        assert resolution.not_matched == (("phone:+33628230455", SHARED_REASON),)
    third = graph.resolve(subject(email="ann@third.net", phone="0628230455"), ref(4))
    assert third.customer_id not in (work.customer_id, home.customer_id)
    assert third.not_matched == (("phone:+33628230455", SHARED_REASON),)
    assert not graph.changes().merges[1:]  # the confirmed merge only


def test_an_event_identifier_over_a_limit_is_dropped_even_if_it_matched_nobody() -> None:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(
        subject(phone="06 28 23 04 55", external_ids=(("retail_customer_no", "R1"),)), ref(1)
    ).customer_id
    resolution = graph.resolve(
        subject(phone="06 28 23 04 55", external_ids=(("retail_customer_no", "R2"),)), ref(2)
    )
    assert resolution.customer_id == ann
    assert resolution.new_links == ()
    assert resolution.not_matched == (
        (
            "external_id:retail_customer_no:R2",
            f"would give customer {ann} a second retail_customer_no external id (limit 1 per type)",
        ),
    )


def test_two_retail_customer_numbers_never_merge_but_other_types_do() -> None:
    graph = IdentityGraph(IdentityRules())
    r1 = graph.resolve(subject(external_ids=(("retail_customer_no", "R1"),)), ref(1))
    r2 = graph.resolve(subject(external_ids=(("retail_customer_no", "R2"),)), ref(2))
    both = graph.resolve(
        subject(external_ids=(("retail_customer_no", "R1"), ("retail_customer_no", "R2"))),
        ref(3),
    )
    assert both.customer_id == r1.customer_id
    assert both.merges == ()
    assert [key for key, _ in both.not_matched] == ["external_id:retail_customer_no:R2"]
    # one number of each type on one customer is fine
    card = graph.resolve(
        subject(external_ids=(("retail_customer_no", "R2"), ("loyalty", "L9"))), ref(4)
    )
    assert card.customer_id == r2.customer_id
    assert card.new_links == (("external_id:loyalty:L9", r2.customer_id),)


def test_an_events_own_identifiers_cannot_break_a_limit_together() -> None:
    graph = IdentityGraph(IdentityRules())
    resolution = graph.resolve(
        subject(external_ids=(("crm", "1"), ("crm", "2"), ("shop", "1"))), ref(1)
    )
    assert [key for key, _ in resolution.new_links] == ["external_id:crm:1", "external_id:shop:1"]
    assert resolution.not_matched == (
        (
            "external_id:crm:2",
            "would give the event's customer a second crm external id (limit 1 per type)",
        ),
    )


def test_an_explicit_customer_id_is_never_dropped_nor_merged_into_another() -> None:
    graph = IdentityGraph(IdentityRules())
    graph.resolve(subject(customer_id="C-1", email="ann@x.com"), ref(1))
    bob = graph.resolve(subject(email="bob@x.com", phone="01 40 50 60 70"), ref(2)).customer_id
    resolution = graph.resolve(
        subject(customer_id="C-1", email="ann.b@x.com", phone="01 40 50 60 70"), ref(3)
    )
    assert resolution.customer_id == "C-1"
    assert resolution.merges == (), "a named customer is never merged with Bob"
    assert resolution.new_links == ((LANDLINE, "C-1"),), "the shared line leads to both"
    assert resolution.not_matched == (
        ("email:ann.b@x.com", "would give customer C-1 a second email (limit 1)"),
    )
    assert graph.customers_of(LANDLINE) == {"C-1", bob}


def test_a_customer_holds_at_most_three_phones_by_default() -> None:
    graph = IdentityGraph(IdentityRules())
    phones = ("06 28 23 04 55", "07 81 22 33 44", "01 40 50 60 70", "01 45 00 00 00")
    ann = graph.resolve(subject(email="ann@x.com", phone=phones[0]), ref(1)).customer_id
    outcomes = [
        graph.resolve(subject(email="ann@x.com", phone=p), ref(n))
        for n, p in enumerate(phones[1:], start=2)
    ]
    assert all(r.customer_id == ann for r in outcomes)
    assert [len(r.new_links) for r in outcomes] == [1, 1, 0]
    assert outcomes[2].not_matched == (
        (SHOP, f"would give customer {ann} a fourth phone (limit 3)"),
    )


def test_limits_count_the_links_of_customers_merged_into_the_survivor() -> None:
    graph = IdentityGraph(
        IdentityRules(),
        customers=customers("A", "B", "C"),
        links=[("email:a@x.com", "B"), (LANDLINE, "A"), ("email:c@x.com", "C")],
        merged_into={"B": "A"},
    )
    assert graph.identifier_keys_of("A") == {"email:a@x.com", LANDLINE}
    resolution = graph.resolve(subject(email="c@x.com", phone="0140506070"), ref(1))
    assert resolution.customer_id == "C"
    reason = f"{SHARED_REASON}: would give customer A a second email (limit 1)"
    assert resolution.not_matched == ((LANDLINE, reason),)


def test_per_customer_limits_are_configurable() -> None:
    graph = IdentityGraph(IdentityRules(max_per_customer={"Email": 2}))
    work = graph.resolve(subject(email="ann@work.com", phone="06 28 23 04 55"), ref(1))
    home = graph.resolve(subject(email="ann@home.org", phone="06 28 23 04 55"), ref(2))
    assert home.customer_id == work.customer_id
    assert home.new_links == (("email:ann@home.org", work.customer_id),)
    third = graph.resolve(subject(email="ann@third.net", phone="06 28 23 04 55"), ref(3))
    assert third.customer_id != work.customer_id
    assert third.not_matched[0][1].endswith("a third email (limit 2)")
