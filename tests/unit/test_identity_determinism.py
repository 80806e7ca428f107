"""Properties: the same events in the same order resolve the same way, from a fresh graph
or from one reloaded from the changes persisted part-way (what a replay after a crash does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from events import ExternalId, Subject
from projections.identity import Customer, EventRef, GraphChanges, IdentityGraph, IdentityRules

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RULES = IdentityRules(
    shared_numbers=("01 40 00 00 00",),
    max_customers={"email": 2, "phone": 2, "anonymous_id": 2},
    # low enough for the few values drawn below to hit them
    max_per_customer={"phone": 1, "anonymous_id": 1},
)
# A shared line and a shared device from the start: resolution alone never links one
# identifier to two customers (it merges them), loaded data can.
BASE_CUSTOMERS = tuple(
    Customer(c, T0 + timedelta(minutes=i), f"b-{c}") for i, c in enumerate("XYZ")
)
BASE_LINKS = (
    ("phone:+33628230455", "X"),
    ("phone:+33628230455", "Y"),
    ("anonymous_id:dev-2", "Y"),
    ("anonymous_id:dev-2", "Z"),
)
KEYS = (
    "email:ann@x.com",
    "email:bob@y.org",
    "phone:+33628230455",
    "phone:+33781223344",
    "external_id:loyalty:L1",
    "external_id:crm:7",
    "anonymous_id:dev-1",
)


def maybe(*values: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(values))


subjects = st.builds(
    lambda customer_id, email, phone, externals, anonymous_id: Subject.model_construct(
        customer_id=customer_id,
        email=email,
        phone=phone,
        external_ids=tuple(ExternalId(type=t, id=i) for t, i in externals),
        anonymous_id=anonymous_id,
    ),
    st.sampled_from((None, None, None, None, "C-1", "C-2")),
    maybe("ann@x.com", " ANN@X.com", "bob@y.org", "cat@z.net", "null"),
    maybe("06 28 23 04 55", "+33628230455", "0033 7 81 22 33 44", "0000", "01 40 00 00 00"),
    st.lists(st.sampled_from((("loyalty", "L1"), ("Loyalty", "L2"), ("crm", "7"), ("crm", "N/A")))),
    maybe("dev-1", "dev-2", "anonymous"),
)
resolves = st.tuples(st.just("resolve"), subjects, st.integers(0, 60), st.integers(0, 40))
splits = st.tuples(st.just("split"), st.sampled_from(KEYS), st.integers(0, 60), st.integers(0, 40))
merges = st.tuples(st.just("merge"), st.sampled_from(KEYS), st.sampled_from(KEYS))
operations = st.lists(st.one_of(resolves, resolves, resolves, splits, merges), max_size=30)


def run(graph: IdentityGraph, ops: list[tuple[Any, ...]]) -> list[object]:
    outcomes: list[object] = []
    for op in ops:
        try:
            outcomes.append(apply(graph, op))
        except ValueError as refused:  # e.g. a split onto an id merged elsewhere
            outcomes.append(("refused", str(refused)))
    return outcomes


def apply(graph: IdentityGraph, op: tuple[Any, ...]) -> object:
    """Splits and merges pick their customers through identifiers."""
    if op[0] == "resolve":
        _, subject, minute, number = op
        resolution = graph.resolve(subject, EventRef("crm", f"m-{number}", at(minute)))
        assert graph.survivor(resolution.customer_id) == resolution.customer_id
        assert all(c == resolution.customer_id for _, c in resolution.new_links)
        return resolution
    if not graph.customers_of(op[1]):
        return "nobody"
    if op[0] == "split":
        _, key, minute, number = op
        original = graph.oldest(graph.customers_of(key))
        graph.split(original, f"S-{number}", [key], EventRef("ops", f"s-{number}", at(minute)))
        return ("split", original)
    ones = {graph.oldest(graph.customers_of(key)) for key in op[1:] if graph.customers_of(key)}
    if len(ones) < 2:
        return "same customer"
    survivor = graph.oldest(ones)
    return graph.merge(survivor, sorted(ones - {survivor}), "by hand")


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@dataclass
class Store:
    """What the adapter would hold after persisting every change."""

    customers: dict[str, Customer] = field(
        default_factory=lambda: {c.customer_id: c for c in BASE_CUSTOMERS}
    )
    links: set[tuple[str, str]] = field(default_factory=lambda: set(BASE_LINKS))
    merged_into: dict[str, str] = field(default_factory=dict)
    kept_apart: set[tuple[str, str]] = field(default_factory=set)

    def persist(self, changes: GraphChanges) -> None:
        self.customers.update((c.customer_id, c) for c in changes.customers)
        self.links -= set(changes.links_removed)
        self.links |= {(link.identifier_key, link.customer_id) for link in changes.links_added}
        for merged in changes.unmerged:
            del self.merged_into[merged]
        self.merged_into.update(changes.merged_into)
        self.kept_apart |= set(changes.kept_apart)

    def load(self) -> IdentityGraph:
        return IdentityGraph(
            RULES,
            links=sorted(self.links),
            customers=self.customers.values(),
            merged_into=self.merged_into,
            kept_apart=self.kept_apart,
        )


@settings(deadline=None)
@given(operations)
def test_the_same_events_in_the_same_order_resolve_identically(ops: list[tuple[Any, ...]]) -> None:
    first, second = Store().load(), Store().load()
    assert run(first, ops) == run(second, ops)
    assert first.changes() == second.changes()


@settings(deadline=None)
@given(operations, st.integers(0, 30))
def test_a_graph_reloaded_from_persisted_changes_resolves_like_the_live_one(
    ops: list[tuple[Any, ...]], cut: int
) -> None:
    live = Store().load()
    run(live, ops[:cut])
    store = Store()
    store.persist(live.changes())
    reloaded = store.load()
    assert run(reloaded, ops[cut:]) == run(live, ops[cut:])
    store.persist(reloaded.changes())
    everything = Store()
    everything.persist(live.changes())
    assert store == everything
