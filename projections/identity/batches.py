"""Resolving a batch in order: which customer each event is about, the merges that implies,
and the decisions people made, applied. Pure given the graph: the resolver stage loads the
slice, calls ``resolve_batch``, publishes ``outgoing`` and persists the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from events.touchpoints.identity import (
    CustomerMerged,
    CustomerMergeRejected,
    CustomerSplit,
    Decision,
)
from events.touchpoints.identity import Identifier as PayloadIdentifier
from projections.identity.decision_events import resolver_merge
from projections.identity.graph import IdentityGraph
from projections.identity.identifiers import Identifier, IdentifierKind
from projections.identity.names import NameKey
from projections.identity.records import EventRef
from projections.identity.rules import IdentityRules, Rejected


class Arriving(Protocol):
    """What resolution reads of an event (``consumers.arrivals.Arrival``)."""

    @property
    def ref(self) -> EventRef: ...
    @property
    def business_unit(self) -> str: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def identified(self) -> tuple[list[Identifier], list[Rejected]]: ...
    @property
    def decision(self) -> Decision | None: ...
    @property
    def name(self) -> NameKey | None: ...


A = TypeVar("A", bound=Arriving)


class DecisionRefused(ValueError):
    """A person's decision that the graph, as it stands at that point of the log, refuses."""


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """One customer merged into another, by a ``customer.merged`` event, at its time."""

    survivor: str
    merged: str
    reason: str
    message_id: str
    merged_at: datetime


@dataclass(frozen=True, slots=True)
class NotMatched:
    """An identifier of an event that was not matched on, and why."""

    identifier: str
    reason: str
    message_id: str


@dataclass
class Batch(Generic[A]):
    """A batch resolved: what to publish (customer id, event), and what to record."""

    outgoing: list[tuple[str, A | CustomerMerged]] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)
    not_matched: list[NotMatched] = field(default_factory=list)
    rejected: list[CustomerMergeRejected] = field(default_factory=list)

    def record_merges(self, event: CustomerMerged, survivor: str, merged: Sequence[str]) -> None:
        p = event.payload
        self.merges += [
            MergeRecord(survivor, m, p.reason, event.message_id, event.occurred_at) for m in merged
        ]


def resolve_batch(graph: IdentityGraph, events: Sequence[A]) -> Batch[A]:
    """Resolve events in order, applying the decisions among them. Raises DecisionRefused
    (naming the event) for a decision the graph refuses."""
    batch: Batch[A] = Batch()
    for event in events:
        if (decision := event.decision) is not None:
            try:
                batch.outgoing.append((apply_decision(graph, decision, event.ref, batch), event))
            except (LookupError, ValueError) as exc:
                message = f"{decision.type} {event.ref.message_id}: {exc}"
                raise DecisionRefused(message) from exc
            continue
        resolution = graph.resolve_identified(event.identified, event.ref, event.name)
        for merge in resolution.merges:
            merged = resolver_merge(merge, event.ref, event.business_unit, event.correlation_id)
            batch.record_merges(merged, merge.survivor, merge.merged)
            batch.outgoing.append((merge.survivor, merged))
        batch.not_matched += [
            NotMatched(key, reason, event.ref.message_id) for key, reason in resolution.not_matched
        ]
        batch.outgoing.append((resolution.customer_id, event))
    return batch


def apply_decision(graph: IdentityGraph, decision: Decision, ref: EventRef, batch: Batch[A]) -> str:
    """A person's split, confirmed or rejected merge, applied; the customer it is about."""
    if isinstance(decision, CustomerSplit):
        p = decision.payload
        keys = _split_keys(p.identifiers_moved, graph.rules)
        graph.split(p.original_customer_id, p.new_customer_id, keys, ref)
        return p.original_customer_id
    if isinstance(decision, CustomerMergeRejected):
        batch.rejected.append(decision)  # a pair the report no longer suspects
        return graph.survivor(decision.payload.customer_id)
    m = decision.payload
    # What the named records have become: a person confirming that A and B are one
    # person means A's and B's survivors are; if they already are one, nothing to do.
    survivor = graph.survivor(m.surviving_customer_id)
    others = sorted({graph.survivor(c) for c in m.merged_customer_ids} - {survivor})
    if not others:
        return survivor
    merge = graph.merge(survivor, others, m.reason)
    batch.record_merges(decision, merge.survivor, merge.merged)
    return merge.survivor


def customers_named(decision: Decision) -> list[str]:
    """The customers a decision names: to load into the graph before applying it."""
    if isinstance(decision, CustomerSplit):
        return [decision.payload.original_customer_id, decision.payload.new_customer_id]
    if isinstance(decision, CustomerMergeRejected):
        return [decision.payload.customer_id, decision.payload.other_customer_id]
    return [decision.payload.surviving_customer_id, *decision.payload.merged_customer_ids]


def _split_keys(identifiers: Sequence[PayloadIdentifier], rules: IdentityRules) -> list[str]:
    keys = []
    for ident in identifiers:
        if not isinstance(ident, PayloadIdentifier):
            continue  # "[erased]" (docs/PRIVACY.md): the erased subject's keys are gone already
        raw = f"{ident.namespace}:{ident.value}" if ident.namespace else ident.value
        parsed = rules.identifier(IdentifierKind[ident.type.name], raw)
        if isinstance(parsed, Rejected):
            raise ValueError(f"identifier {ident} cannot be moved: {parsed.reason}")  # noqa: TRY004
        keys.append(parsed.key)
    return keys
