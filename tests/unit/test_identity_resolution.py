"""Resolution: new customers, matching written forms, authority, merges, limits, changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events import ExternalId, Subject
from projections.identity import (
    TOUCHLOG_NAMESPACE,
    Customer,
    EventRef,
    IdentityGraph,
    IdentityRules,
    Link,
    Merge,
    Resolution,
    new_customer_id,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MOBILE = "phone:+33628230455"


def ref(n: int, system: str = "crm") -> EventRef:
    return EventRef(system, f"m-{n}", T0 + timedelta(minutes=n))


def subject(external_ids: tuple[tuple[str, str], ...] = (), **fields: Any) -> Subject:
    externals = tuple(ExternalId(type=t, id=i) for t, i in external_ids)
    return Subject.model_construct(external_ids=externals, **fields)


def customer(customer_id: str, minute: int) -> Customer:
    return Customer(customer_id, T0 + timedelta(minutes=minute), f"born-{customer_id}")


def test_a_new_customers_id_is_derived_from_its_event() -> None:
    first = new_customer_id(ref(1))
    assert first == str(uuid.uuid5(TOUCHLOG_NAMESPACE, "crm/m-1"))
    assert new_customer_id(EventRef("crm", "m-1", T0 + timedelta(days=3))) == first
    assert new_customer_id(ref(1, system="shop")) != first
    assert new_customer_id(ref(2)) != first


def test_event_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EventRef("crm", "m-1", datetime(2026, 3, 1))  # noqa: DTZ001 - the point of the test


def test_an_unknown_subject_becomes_a_customer_born_from_the_event() -> None:
    graph = IdentityGraph(IdentityRules())
    resolution = graph.resolve(subject(email=" Ann@X.com"), ref(1))
    born = new_customer_id(ref(1))
    assert resolution == Resolution(
        customer_id=born,
        new_customer=Customer(born, ref(1).occurred_at, "m-1"),
        new_links=(("email:ann@x.com", born),),
        merges=(),
        not_matched=(),
    )
    assert graph.customers_of("email:ann@x.com") == {born}


def test_the_same_caller_written_another_way_finds_the_same_customer() -> None:
    graph = IdentityGraph(IdentityRules())
    first = graph.resolve(subject(phone="06 28 23 04 55"), ref(1))
    again = graph.resolve(subject(phone="+33 (0)6.28.23.04.55", email="ann@x.com"), ref(2))
    assert again.customer_id == first.customer_id
    assert again.new_customer is None
    assert again.new_links == (("email:ann@x.com", first.customer_id),)


def test_an_explicit_customer_id_is_authoritative_and_created_if_unknown() -> None:
    graph = IdentityGraph(IdentityRules())
    resolution = graph.resolve(subject(customer_id="C-7", email="ann@x.com"), ref(1))
    assert resolution.customer_id == "C-7"
    assert resolution.new_customer == Customer("C-7", ref(1).occurred_at, "m-1")
    assert resolution.new_links == (("email:ann@x.com", "C-7"),)  # no link for the id itself
    assert graph.resolve(subject(customer_id="C-7"), ref(2)).new_customer is None


def test_an_explicit_id_of_a_merged_customer_resolves_to_the_survivor() -> None:
    graph = IdentityGraph(
        IdentityRules(), customers=[customer("A", 0), customer("B", 1)], merged_into={"B": "A"}
    )
    assert graph.resolve(subject(customer_id="B"), ref(5)).customer_id == "A"


def test_identifiers_leading_to_two_customers_merge_them_into_the_oldest() -> None:
    graph = IdentityGraph(IdentityRules())
    by_phone = graph.resolve(subject(phone="06 28 23 04 55"), ref(2)).customer_id
    by_email = graph.resolve(subject(email="ann@x.com"), ref(3)).customer_id
    resolution = graph.resolve(subject(email="ann@x.com", phone="0628230455"), ref(4))
    assert resolution.customer_id == by_phone
    assert resolution.new_links == ()
    (merge,) = resolution.merges
    assert (merge.survivor, merge.merged) == (by_phone, (by_email,))
    assert "email:ann@x.com" in merge.reason
    assert MOBILE in merge.reason
    assert "crm/m-4" in merge.reason
    assert graph.survivor(by_email) == by_phone
    assert graph.customers_of("email:ann@x.com") == {by_phone}


def test_the_oldest_is_by_birth_then_id_not_by_arrival() -> None:
    customers = [customer("Z", 5), customer("B", 1), customer("A", 1)]
    links = [("external_id:crm:1", "Z"), (MOBILE, "B"), ("email:a@x.com", "A")]
    graph = IdentityGraph(IdentityRules(), links=links, customers=customers)
    resolution = graph.resolve(subject(external_ids=(("crm", "1"),), anonymous_id="d1"), ref(9))
    assert resolution.customer_id == "Z"  # only one customer so far
    everyone = graph.resolve(
        subject(email="a@x.com", phone="06 28 23 04 55", external_ids=(("CRM", "1"),)), ref(11)
    )
    assert everyone.merges == (Merge("A", ("B", "Z"), everyone.merges[0].reason),)
    assert {graph.survivor(c) for c in "ABZ"} == {"A"}
    assert graph.identifier_keys_of("Z") == {
        "email:a@x.com",
        MOBILE,
        "external_id:crm:1",
        "anonymous_id:d1",
    }


def test_an_identifier_on_as_many_customers_as_its_limit_no_longer_matches() -> None:
    sharing = [customer(c, i) for i, c in enumerate(("A", "B", "C"))]
    graph = IdentityGraph(
        IdentityRules(), links=[(MOBILE, c.customer_id) for c in sharing], customers=sharing
    )
    resolution = graph.resolve(subject(phone="06 28 23 04 55", email="dan@x.com"), ref(1))
    assert resolution.customer_id == new_customer_id(ref(1))  # a 4th customer, not A
    assert resolution.merges == ()
    assert resolution.not_matched == ((MOBILE, "over the limit: linked to 3 customers (limit 3)"),)
    # still recorded: a caller lookup on that line must list every customer on it
    assert (MOBILE, resolution.customer_id) in resolution.new_links
    assert graph.customers_of(MOBILE) == {"A", "B", "C", resolution.customer_id}


def test_below_its_limit_an_identifier_still_matches() -> None:
    rules = IdentityRules(max_customers={"phone": 4})
    sharing = [customer(c, i) for i, c in enumerate(("A", "B", "C"))]
    graph = IdentityGraph(
        rules, links=[(MOBILE, c.customer_id) for c in sharing], customers=sharing
    )
    resolution = graph.resolve(subject(phone="06 28 23 04 55"), ref(1))
    assert resolution.customer_id == "A"
    assert resolution.merges[0].merged == ("B", "C")


def test_limits_count_surviving_customers() -> None:
    sharing = [customer(c, i) for i, c in enumerate(("A", "B", "C"))]
    graph = IdentityGraph(
        IdentityRules(),
        links=[(MOBILE, c.customer_id) for c in sharing],
        customers=sharing,
        merged_into={"C": "B"},
    )
    assert graph.customers_of(MOBILE) == {"A", "B"}
    assert graph.resolve(subject(phone="+33628230455"), ref(1)).customer_id == "A"


def test_junk_is_reported_and_never_linked() -> None:
    graph = IdentityGraph(IdentityRules(shared_numbers=("01 40 00 00 00",)))
    resolution = graph.resolve(
        subject(email="ann@x.com", phone="01.40.00.00.00", anonymous_id="null"), ref(1)
    )
    assert resolution.new_links == (("email:ann@x.com", resolution.customer_id),)
    assert [key for key, _ in resolution.not_matched] == [
        "phone:01.40.00.00.00",
        "anonymous_id:null",
    ]
    assert graph.customers_of("phone:+33140000000") == set()


def test_an_event_with_nothing_usable_is_its_own_customer_and_the_same_on_replay() -> None:
    graph = IdentityGraph(IdentityRules())
    first = graph.resolve(subject(phone="0000000000"), ref(1))
    assert first.customer_id == new_customer_id(ref(1))
    replayed = graph.resolve(subject(phone="0000000000"), ref(1))
    assert replayed.customer_id == first.customer_id
    assert replayed.new_customer is None


def test_changes_report_what_to_persist_once() -> None:
    graph = IdentityGraph(IdentityRules())
    a = graph.resolve(subject(email="ann@x.com"), ref(1)).customer_id
    b = graph.resolve(subject(phone="+33628230455"), ref(2)).customer_id
    merge = graph.resolve(subject(email="ann@x.com", phone="+33628230455"), ref(3)).merges[0]
    changes = graph.changes()
    assert [c.customer_id for c in changes.customers] == sorted([a, b])
    assert changes.links_added == (
        Link("email:ann@x.com", a, ref(1)),
        Link(MOBILE, b, ref(2)),
    )
    assert changes.merged_into == ((b, a),)
    assert changes.merges == (merge,)
    assert not changes.links_removed
    assert not changes.unmerged
    graph.clear_changes()
    assert not graph.changes()


def test_a_customer_missing_from_the_loaded_slice_is_an_error() -> None:
    graph = IdentityGraph(
        IdentityRules(),
        links=[("email:ann@x.com", "A"), (MOBILE, "B")],
        customers=[customer("A", 0)],
    )
    with pytest.raises(LookupError, match="customer B is not in the graph"):
        graph.resolve(subject(email="ann@x.com", phone="+33628230455"), ref(1))
