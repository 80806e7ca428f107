"""A person's identity decisions, checked against the stored graph and built as events with
the resolver's factories (pure, a fake of the stored graph, no services)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from events import Touchpoint
from projections.identity.decision_events import DECISIONS, Decided
from projections.identity.decisions import IdentityDecisions, UnknownCustomer

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


class FakeGraph:
    """Customers oldest first; ``merged`` maps a record to the one it was merged into."""

    def __init__(self, customers: Sequence[str], merged: dict[str, str] | None = None) -> None:
        self.customers = list(customers)
        self.merged = merged or {}
        self.links = {"B": ["email:bob@example.com", "phone:+33611223344"]}

    async def survivor_of(self, customer_id: str) -> str | None:
        if customer_id not in self.customers:
            return None
        while customer_id in self.merged:
            customer_id = self.merged[customer_id]
        return customer_id

    async def older_first(self, customer_ids: Sequence[str]) -> list[str]:
        return sorted(customer_ids, key=self.customers.index)

    async def own_identifiers(self, customer_id: str) -> list[str]:
        return self.links.get(customer_id, [])

    async def last_merge(self, survivor: str, merged: str) -> str | None:
        return "m-1" if self.merged.get(merged) == survivor else None


def _decisions(graph: FakeGraph) -> tuple[IdentityDecisions, list[Touchpoint]]:
    sent: list[Touchpoint] = []

    async def publish(event: Touchpoint) -> None:
        sent.append(event)

    return IdentityDecisions(graph, publish), sent


async def test_a_confirmed_merge_keeps_the_older_survivor_at_the_decisions_time() -> None:
    decisions, sent = _decisions(FakeGraph(["A", "B", "C"], {"C": "B"}))
    event = await decisions.confirm("C", "A", Decided("rep-1", AT, "same person"))
    assert sent == [event]
    assert event.payload.surviving_customer_id == "A"
    assert event.payload.merged_customer_ids == ("B",), "C's survivor"
    assert (event.occurred_at, event.source, event.payload.merged_by) == (AT, DECISIONS, "rep-1")


async def test_the_same_decision_is_the_same_event() -> None:
    decisions, _ = _decisions(FakeGraph(["A", "B"]))
    first = await decisions.reject("A", "B", Decided("rep-2", AT))
    again = await decisions.reject("B", "A", Decided("rep-2", AT))
    later = await decisions.reject("A", "B", Decided("rep-2", AT.replace(hour=11)))
    assert first == again
    assert later.message_id != first.message_id
    assert (first.payload.customer_id, first.payload.other_customer_id) == ("A", "B")


async def test_a_split_moves_what_the_record_held_and_names_the_merge_it_undoes() -> None:
    decisions, _ = _decisions(FakeGraph(["A", "B"], {"B": "A"}))
    event = await decisions.split("A", "B", Decided("manager-3", AT))
    assert [str(i) for i in event.payload.identifiers_moved] == [
        "email bob@example.com",
        "phone +33611223344",
    ]
    assert event.payload.reverses_merge == "m-1"
    assert event.payload.reason == "not the same person"


@pytest.mark.parametrize(
    ("decide", "error"),
    [
        (lambda d: d.confirm("A", "nobody", Decided("r", AT)), UnknownCustomer),
        (lambda d: d.confirm("A", "B", Decided("r", AT)), ValueError),  # already one
        (lambda d: d.confirm("A", "C", Decided("r", AT), survivor="X"), ValueError),
        (lambda d: d.split("B", "C", Decided("r", AT)), ValueError),  # B merged into A
        (lambda d: d.split("A", "A", Decided("r", AT)), ValueError),
        (lambda d: d.split("A", "C", Decided("r", AT)), ValueError),  # nothing to move
        (lambda d: d.split("A", "C", Decided("r", AT), ["fax:1"]), ValueError),
    ],
)
async def test_a_decision_that_makes_no_sense_publishes_nothing(decide, error) -> None:
    decisions, sent = _decisions(FakeGraph(["A", "B", "C"], {"B": "A"}))
    with pytest.raises(error):
        await decide(decisions)
    assert sent == []


def test_a_decision_has_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Decided("r", datetime(2026, 3, 2, 10))  # noqa: DTZ001
