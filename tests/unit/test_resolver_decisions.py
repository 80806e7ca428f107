"""A person's decisions, applied to the graph by the resolver (pure, no services)."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.arrivals import arrivals
from events import encode, from_mapping
from projections.identity import Customer, IdentityGraph, IdentityRules
from projections.identity.batches import resolve_batch
from projections.identity.decision_events import Decided, rejected_merge
from tests.factories import event_dict

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _confirmed(survivor: str, merged: str):
    data = event_dict(customer=survivor, message_id=f"m-{survivor}-{merged}")
    data |= {
        "type": "customer.merged",
        "payload": {
            "surviving_customer_id": survivor,
            "merged_customer_ids": [merged],
            "reason": "confirmed duplicate",
            "merged_by": "rep-1",
        },
    }
    data["source"]["channel"] = "app"
    (arrival,) = arrivals(IdentityRules(), [encode(from_mapping(data))])
    return arrival


def _graph(merged_into: dict[str, str]) -> IdentityGraph:
    customers = [Customer(c, T0, f"born-{c}") for c in ("A", "B", "X")]
    return IdentityGraph(IdentityRules(), customers=customers, merged_into=merged_into)


def test_confirming_customers_already_merged_is_a_no_op() -> None:
    graph = _graph({"B": "A"})
    batch = resolve_batch(graph, [_confirmed("A", "B")])
    assert batch.merges == []
    assert [cid for cid, _ in batch.outgoing] == ["A"]
    assert not graph.changes()


def test_confirming_a_record_merged_elsewhere_merges_what_it_became() -> None:
    graph = _graph({"B": "X"})
    batch = resolve_batch(graph, [_confirmed("A", "B")])
    assert [(m.survivor, m.merged) for m in batch.merges] == [("A", "X")]
    assert graph.survivor("B") == "A"
    assert [cid for cid, _ in batch.outgoing] == ["A"]


def test_a_rejected_merge_is_recorded_and_changes_no_link() -> None:
    decided = Decided("rep-2", T0)
    event = rejected_merge("B", "A", decided)
    (arrival,) = arrivals(IdentityRules(), [encode(event)])
    graph = _graph({"B": "X"})
    batch = resolve_batch(graph, [arrival])
    assert batch.rejected == [event]
    assert [cid for cid, _ in batch.outgoing] == ["A"]
    assert not graph.changes()
