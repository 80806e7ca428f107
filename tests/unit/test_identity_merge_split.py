"""Merges by hand, chains of merges, and splits that undo a wrong merge and stay undone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events import ExternalId, Subject
from projections.identity import Customer, EventRef, IdentityGraph, IdentityRules, Link, Merge

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ANN_PHONE, BOB_PHONE = "phone:+33628230455", "phone:+33781223344"
CARD = "external_id:loyalty:L9"


def ref(n: int) -> EventRef:
    return EventRef("crm", f"m-{n}", T0 + timedelta(minutes=n))


def subject(external_ids: tuple[tuple[str, str], ...] = (), **fields: Any) -> Subject:
    externals = tuple(ExternalId(type=t, id=i) for t, i in external_ids)
    return Subject.model_construct(external_ids=externals, **fields)


def customers(*ids: str) -> list[Customer]:
    return [Customer(c, T0 + timedelta(minutes=i), f"born-{c}") for i, c in enumerate(ids)]


def wrongly_merged() -> IdentityGraph:
    """Ann and Bob, merged because Bob's phone was typed on one of Ann's events (Bob gave
    no email, so no per-customer limit stops it)."""
    graph = IdentityGraph(IdentityRules())
    graph.resolve(subject(customer_id="ann", email="ann@x.com", phone="06 28 23 04 55"), ref(1))
    graph.resolve(subject(customer_id="bob", phone="07 81 22 33 44"), ref(2))
    merge = graph.resolve(subject(email="ann@x.com", phone="07.81.22.33.44"), ref(3)).merges
    assert merge == (Merge("ann", ("bob",), merge[0].reason),)
    # after the merge, Bob's new loyalty card lands on Ann
    graph.resolve(subject(phone="0781223344", external_ids=(("loyalty", "L9"),)), ref(4))
    assert graph.customers_of(CARD) == {"ann"}
    return graph


def test_survivor_follows_chains_of_merges() -> None:
    graph = IdentityGraph(
        IdentityRules(), customers=customers("A", "B", "C"), links=[("email:c@x.com", "C")]
    )
    graph.merge("B", ["C"], "confirmed duplicate")
    graph.merge("A", ["B"], "confirmed duplicate")
    assert [graph.survivor(c) for c in "ABC"] == ["A", "A", "A"]
    assert graph.survivor("unknown") == "unknown"
    assert graph.customers_of("email:c@x.com") == {"A"}
    assert graph.identifier_keys_of("C") == {"email:c@x.com"}
    assert graph.changes().merged_into == (("B", "A"), ("C", "B"))


def test_a_merge_loop_in_loaded_data_is_an_error() -> None:
    graph = IdentityGraph(IdentityRules(), merged_into={"A": "B", "B": "A"})
    with pytest.raises(ValueError, match="loops"):
        graph.survivor("A")


@pytest.mark.parametrize(
    ("survivor", "merged", "error", "message"),
    [
        ("A", [], ValueError, "distinct customers"),
        ("A", ["A"], ValueError, "distinct customers"),
        ("A", ["B", "B"], ValueError, "distinct customers"),
        ("A", ["C"], ValueError, "C was already merged into B"),
        ("C", ["A"], ValueError, "C was already merged into B"),
        ("A", ["X"], LookupError, "customer X is not in the graph"),
    ],
)
def test_an_impossible_merge_is_refused(
    survivor: str, merged: list[str], error: type[Exception], message: str
) -> None:
    graph = IdentityGraph(
        IdentityRules(), customers=customers("A", "B", "C"), merged_into={"C": "B"}
    )
    with pytest.raises(error, match=message):
        graph.merge(survivor, merged, "by hand")
    assert not graph.changes()


def test_splitting_a_merged_customer_back_out_restores_its_links() -> None:
    graph = wrongly_merged()
    graph.split("ann", "bob", [CARD], ref(5))
    assert graph.survivor("bob") == "bob"
    assert graph.customers_of(BOB_PHONE) == {"bob"}  # its own link, back
    assert graph.customers_of(CARD) == {"bob"}  # moved
    assert graph.customers_of(ANN_PHONE) == {"ann"}
    assert graph.identifier_keys_of("bob") == {BOB_PHONE, CARD}
    assert graph.identifier_keys_of("ann") == {"email:ann@x.com", ANN_PHONE}
    assert graph.kept_apart("ann", "bob")
    assert graph.resolve(subject(phone="07 81 22 33 44"), ref(6)).customer_id == "bob"


def test_a_split_pair_is_never_merged_again_by_resolution() -> None:
    graph = wrongly_merged()
    graph.split("ann", "bob", [CARD], ref(5))
    graph.clear_changes()
    # the same typo again: Ann's email, Bob's phone
    resolution = graph.resolve(subject(email="ann@x.com", phone="0781223344"), ref(6))
    assert resolution.customer_id == "ann"  # email outranks phone
    assert resolution.merges == ()
    assert resolution.not_matched == ((BOB_PHONE, "kept apart by a split: leads to bob"),)
    assert resolution.new_links == ()  # one event does not undo a person's decision
    assert graph.customers_of(BOB_PHONE) == {"bob"}
    assert not graph.changes()


def test_the_pair_stays_apart_through_later_merges() -> None:
    graph = wrongly_merged()
    graph.split("ann", "bob", [CARD], ref(5))
    carol = graph.resolve(subject(email="carol@x.com"), ref(6)).customer_id
    graph.merge("bob", [carol], "confirmed duplicate")
    resolution = graph.resolve(subject(email="carol@x.com", phone="06 28 23 04 55"), ref(7))
    assert resolution.customer_id == "bob"
    assert resolution.merges == ()
    assert graph.kept_apart(carol, "ann")


def test_splitting_to_a_new_customer_moves_the_identifiers_to_it() -> None:
    graph = IdentityGraph(IdentityRules())
    ann = graph.resolve(
        subject(email="ann@x.com", phone="06 28 23 04 55", external_ids=(("loyalty", "L9"),)),
        ref(1),
    ).customer_id
    graph.clear_changes()
    graph.split(ann, "C-new", [CARD, ANN_PHONE], ref(2))
    assert graph.customer("C-new") == Customer("C-new", ref(2).occurred_at, "m-2")
    assert graph.customers_of(CARD) == {"C-new"}
    assert graph.customers_of(ANN_PHONE) == {"C-new"}
    assert graph.identifier_keys_of(ann) == {"email:ann@x.com"}
    changes = graph.changes()
    assert changes.links_removed == ((CARD, ann), (ANN_PHONE, ann))
    assert changes.links_added == (Link(CARD, "C-new", ref(2)), Link(ANN_PHONE, "C-new", ref(2)))
    assert changes.kept_apart == (tuple(sorted((ann, "C-new"))),)


def test_undoing_a_loaded_merge_reports_the_unmerge() -> None:
    graph = IdentityGraph(
        IdentityRules(),
        customers=customers("ann", "bob"),
        links=[("email:ann@x.com", "ann"), ("email:bob@x.com", "bob")],
        merged_into={"bob": "ann"},
    )
    graph.split("ann", "bob", [], ref(1))
    changes = graph.changes()
    assert changes.unmerged == ("bob",)
    assert changes.kept_apart == (("ann", "bob"),)
    assert not changes.links_added
    assert not changes.links_removed


@pytest.mark.parametrize(
    ("original", "new", "keys", "error", "message"),
    [
        ("nobody", "N", ["email:ann@x.com"], LookupError, "customer nobody is not in the graph"),
        ("bob", "N", ["email:bob@x.com"], ValueError, "bob was merged into ann: split ann"),
        ("ann", "ann", ["email:ann@x.com"], ValueError, "other than the original"),
        ("ann", "N", ["ann@x.com"], ValueError, "is not an identifier key"),
        ("ann", "N", ["email:zed@x.com"], ValueError, "not linked to customer ann"),
        ("ann", "carl", ["email:ann@x.com"], ValueError, "carl was merged into dee, not ann"),
        ("ann", "N", [], ValueError, "nothing to split"),
    ],
)
def test_an_impossible_split_is_refused_and_changes_nothing(
    original: str, new: str, keys: list[str], error: type[Exception], message: str
) -> None:
    graph = IdentityGraph(
        IdentityRules(),
        customers=customers("ann", "bob", "carl", "dee"),
        links=[("email:ann@x.com", "ann"), ("email:bob@x.com", "bob")],
        merged_into={"bob": "ann", "carl": "dee"},
    )
    with pytest.raises(error, match=message):
        graph.split(original, new, keys, ref(1))
    assert not graph.changes()
    assert graph.customer("N") is None
