"""Shared numbers are a function of the log: the same events resolve the same way, and find
the same numbers shared, from a fresh graph or from one reloaded part-way from what was
persisted (a replay, a restarted resolver)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from events import Subject
from projections.identity import Customer, EventRef, IdentityGraph, IdentityRules
from projections.identity.records import GraphRows

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RULES = IdentityRules()
PHONES = ("phone:+33140506070", "phone:+33628230455", "phone:+33472000001")

subjects = st.builds(
    lambda email, phone: Subject.model_construct(email=email, phone=phone),
    st.one_of(st.none(), st.sampled_from(("ann@x.com", "bob@x.com", "cat@x.com"))),
    st.one_of(st.none(), st.sampled_from(("01 40 50 60 70", "06 28 23 04 55", "0472000001"))),
)


class Stored:
    """What the identity tables would hold: every change persisted so far."""

    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.links: set[tuple[str, str]] = set()
        self.merged_into: dict[str, str] = {}
        self.shared: set[str] = set()

    def persist(self, graph: IdentityGraph) -> None:
        changes = graph.changes()
        self.customers.update((c.customer_id, c) for c in changes.customers)
        self.links |= {(link.identifier_key, link.customer_id) for link in changes.links_added}
        self.links -= set(changes.links_removed)
        self.merged_into.update(changes.merged_into)
        self.shared |= {mark.identifier_key for mark in changes.shared}
        graph.clear_changes()

    def load(self) -> IdentityGraph:
        graph = IdentityGraph(RULES)
        graph.absorb(
            GraphRows(
                links=sorted(self.links),
                customers=list(self.customers.values()),
                merged_into=dict(self.merged_into),
                kept_apart=[],
                shared=sorted(self.shared),
            )
        )
        return graph


def refs(n: int) -> list[EventRef]:
    return [EventRef("crm", f"m-{i}", T0 + timedelta(minutes=i)) for i in range(n)]


@settings(max_examples=150, deadline=None)
@given(st.lists(subjects, min_size=1, max_size=25), st.integers(1, 24))
def test_shared_numbers_are_found_the_same_after_a_reload(events: list[Subject], cut: int) -> None:
    at = refs(len(events))
    live = IdentityGraph(RULES)
    expected = [live.resolve(s, r) for s, r in zip(events, at, strict=True)]

    stored = Stored()
    graph = IdentityGraph(RULES)
    outcomes = []
    for n, (s, r) in enumerate(zip(events, at, strict=True)):
        if n == cut:
            stored.persist(graph)
            graph = stored.load()
        outcomes.append(graph.resolve(s, r))
    stored.persist(graph)

    assert [(o.customer_id, o.merges, o.new_links) for o in outcomes] == [
        (e.customer_id, e.merges, e.new_links) for e in expected
    ]
    assert {k for k in PHONES if live.shared(k)} == {k for k in PHONES if graph.shared(k)}
    assert stored.shared == {k for k in PHONES if live.shared(k)}


def test_a_household_reloaded_between_the_two_people_finds_it_shared() -> None:
    at = refs(3)
    stored = Stored()
    graph = IdentityGraph(RULES)
    ann = graph.resolve(Subject.model_construct(email="ann@x.com", phone="0140506070"), at[0])
    stored.persist(graph)
    graph = stored.load()
    bob = graph.resolve(Subject.model_construct(email="bob@x.com", phone="0140506070"), at[1])
    stored.persist(graph)
    assert stored.shared == {"phone:+33140506070"}
    graph = stored.load()
    call = graph.resolve(Subject.model_construct(phone="01 40 50 60 70"), at[2])
    assert call.customer_id not in (ann.customer_id, bob.customer_id)
    assert call.merges == ()
