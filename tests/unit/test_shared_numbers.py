"""Shared numbers found by resolution: a phone on people otherwise distinct (another email,
another business customer number, a clearly different name) matches nobody from then on,
and merges nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from events import ExternalId, Subject
from projections.identity import EventRef, IdentityGraph, IdentityRules
from projections.identity.graph import SHARED_REASON
from projections.identity.names import NameKey

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LANDLINE = "phone:+33140506070"


def ref(n: int) -> EventRef:
    return EventRef("crm", f"m-{n}", T0 + timedelta(minutes=n))


def subject(external_ids: tuple[tuple[str, str], ...] = (), **fields: Any) -> Subject:
    externals = tuple(ExternalId(type=t, id=i) for t, i in external_ids)
    return Subject.model_construct(external_ids=externals, **fields)


def household() -> tuple[IdentityGraph, str, str]:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(subject(email="ann@x.com", phone="01 40 50 60 70"), ref(1))
    bob = graph.resolve(subject(email="bob@x.com", phone="01.40.50.60.70"), ref(2))
    return graph, ann.customer_id, bob.customer_id


def test_two_people_with_one_phone_and_different_emails_make_it_shared() -> None:
    graph, ann, bob = household()
    assert ann != bob
    assert graph.shared(LANDLINE)
    assert graph.customers_of(LANDLINE) == {ann, bob}
    [mark] = graph.changes().shared
    assert (mark.identifier_key, mark.ref.message_id) == (LANDLINE, "m-2")
    assert mark.reason.startswith(SHARED_REASON)
    assert "second email" in mark.reason
    assert graph.changes().merges == ()


def test_an_event_with_only_a_shared_phone_matches_nobody() -> None:
    graph, ann, bob = household()
    call = graph.resolve(subject(phone="0140506070"), ref(3))
    assert call.customer_id not in (ann, bob)
    assert call.merges == ()
    assert call.not_matched == ((LANDLINE, SHARED_REASON),)
    # born from the shared number alone: not one more person on the line
    assert call.new_links == ()
    assert graph.customers_of(LANDLINE) == {ann, bob}


def test_a_shared_phone_with_an_email_resolves_by_the_email() -> None:
    graph, ann, bob = household()
    assert graph.resolve(subject(email="ANN@x.com", phone="0140506070"), ref(3)).customer_id == ann
    assert graph.resolve(subject(email="bob@x.com", phone="0140506070"), ref(4)).customer_id == bob
    cat = graph.resolve(subject(email="cat@x.com", phone="0140506070"), ref(5))
    assert cat.customer_id not in (ann, bob)
    assert (LANDLINE, cat.customer_id) in cat.new_links  # the third person on the line
    assert graph.customers_of(LANDLINE) == {ann, bob, cat.customer_id}
    assert graph.changes().merges == ()


def test_seeing_the_pattern_again_never_merges_anyone() -> None:
    graph, ann, bob = household()
    for n in range(3, 13):
        email = ("ann@x.com", "bob@x.com", None)[n % 3]
        resolution = graph.resolve(subject(email=email, phone="01 40 50 60 70"), ref(n))
        assert resolution.merges == ()
    # the email that was once the phone's only other holder still merges nobody
    graph.resolve(subject(phone="01 40 50 60 70"), ref(20))
    assert graph.changes().merges == ()
    assert graph.survivor(ann) == ann
    assert graph.survivor(bob) == bob


def test_the_same_person_twice_with_the_same_phone_and_email_is_not_shared() -> None:
    graph = IdentityGraph(IdentityRules())
    first = graph.resolve(subject(email="ann@x.com", phone="01 40 50 60 70"), ref(1))
    again = graph.resolve(subject(email=" ANN@x.com", phone="+33 1 40 50 60 70"), ref(2))
    call = graph.resolve(subject(phone="0140506070"), ref(3))
    assert first.customer_id == again.customer_id == call.customer_id
    assert not graph.shared(LANDLINE)
    assert graph.changes().shared == ()


def test_a_phone_on_two_business_customer_numbers_is_shared() -> None:
    graph = IdentityGraph(IdentityRules())
    a = graph.resolve(subject(phone="0140506070", external_ids=(("retail", "R1"),)), ref(1))
    b = graph.resolve(subject(phone="0140506070", external_ids=(("retail", "R2"),)), ref(2))
    # External ids come after the phone: the phone matched before R2 was refused, so
    # this pair alone shows nothing (the event stays on R1's customer, R2 not linked).
    assert b.customer_id == a.customer_id
    assert not graph.shared(LANDLINE)
    c = graph.resolve(subject(email="c@x.com", external_ids=(("retail", "R3"),)), ref(3))
    d = graph.resolve(subject(email="c@x.com", phone="0140506070"), ref(4))
    assert d.customer_id == c.customer_id
    assert graph.shared(LANDLINE)
    assert graph.changes().merges == ()


def test_a_phone_over_a_phone_limit_is_not_taken_for_shared() -> None:
    """A customer already holding its three phones refuses a fourth: that is about the
    customer, not about the number naming someone else."""
    graph = IdentityGraph(IdentityRules(max_per_customer={"phone": 1}))
    ann = graph.resolve(subject(email="ann@x.com", phone="06 28 23 04 55"), ref(1))
    other = graph.resolve(subject(phone="01 40 50 60 70"), ref(2))
    joined = graph.resolve(subject(email="ann@x.com", phone="01 40 50 60 70"), ref(3))
    assert joined.customer_id == ann.customer_id != other.customer_id
    assert not graph.shared(LANDLINE)


def test_configured_shared_numbers_still_refuse_the_number() -> None:
    graph = IdentityGraph(IdentityRules(shared_numbers=("01 40 50 60 70",)))
    ann = graph.resolve(subject(email="ann@x.com", phone="0140506070"), ref(1))
    assert ann.not_matched[0][1].startswith("shared number")
    assert graph.customers_of(LANDLINE) == set()
    assert not graph.shared(LANDLINE)  # configured, not found


def test_a_household_phone_on_two_names_without_emails_is_shared() -> None:
    graph = IdentityGraph(IdentityRules())
    jacob = graph.resolve(subject(phone="01 40 50 60 70"), ref(1), NameKey.of("Jacob", "Campbell"))
    theo = graph.resolve(subject(phone="0140506070"), ref(2), NameKey.of("Theo", "Campbell"))
    assert jacob.customer_id != theo.customer_id
    assert graph.shared(LANDLINE)
    assert graph.customers_of(LANDLINE) == {jacob.customer_id, theo.customer_id}
    [mark] = graph.changes().shared
    assert mark.ref.message_id == "m-2"
    assert "another name" in mark.reason
    # another family name on the line: a third person, still nobody merged
    ann = graph.resolve(subject(phone="+33140506070"), ref(3), NameKey.of("Ann", "Lee"))
    assert ann.customer_id not in (jacob.customer_id, theo.customer_id)
    assert graph.changes().merges == ()
    names = dict(graph.changes().names)
    assert names[jacob.customer_id] == NameKey.of("Jacob", "Campbell")


def test_the_same_person_with_a_name_written_differently_is_not_shared() -> None:
    graph = IdentityGraph(IdentityRules())
    first = graph.resolve(subject(phone="01 40 50 60 70"), ref(1), NameKey.of("Hélène", "Dupont"))
    again = [
        graph.resolve(subject(phone="0140506070"), ref(n), name)
        for n, name in enumerate(
            (
                NameKey.of("HELENE", "DUPONT"),
                NameKey.of(" helene ", "Du-pont"),
                NameKey.of("H.", "Dupont"),
                NameKey.of(None, "dupont"),
            ),
            start=2,
        )
    ]
    assert {r.customer_id for r in again} == {first.customer_id}
    assert not graph.shared(LANDLINE)
    assert graph.changes().shared == ()


def test_a_customer_keeps_the_name_it_was_first_given() -> None:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(subject(email="ann@x.com"), ref(1), NameKey.of("Ann", "Lee"))
    graph.resolve(subject(email="ann@x.com"), ref(2), NameKey.of("Ann", "Smith"))
    assert graph.names_of(ann.customer_id) == {NameKey.of("Ann", "Lee")}


def test_names_clearly_differ_only_on_another_family_or_given_name() -> None:
    jacob = NameKey.of("Jacob", "Campbell")
    assert jacob is not None
    assert jacob.clearly_differs(NameKey("theo", "campbell"))
    assert jacob.clearly_differs(NameKey("jacob", "singh"))
    for same in ("J", "jac", "Jacob Paul", ""):
        assert not jacob.clearly_differs(NameKey(same.casefold(), "campbell"))
    assert NameKey.of("Jacob", "  ") is None
