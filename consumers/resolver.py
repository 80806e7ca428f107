"""The identity resolver stage: ``touchlog.touchpoints`` → graph → ``touchlog.resolved``.

It runs inside the projection runner, as a view whose ``write`` also publishes:
for each batch, in the runner's transaction, it loads the slice of the identity
graph the batch can touch, resolves the events in order (pure, deterministic),
publishes every event stamped with its customer — and a ``customer.merged`` for
every merge — and waits for the broker's acknowledgement *before* the graph
changes and offsets commit. A batch replayed after a crash resolves to the same
customers and republishes identical records (same bytes, same message ids),
which downstream deduplication by message id absorbs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer

from consumers.view import Unapplicable
from events import Touchpoint
from events.envelope import Channel, Source
from events.resolved import encode_resolved
from events.touchpoints import CustomerMerged, CustomerMergedPayload, CustomerSplit
from events.touchpoints.identity import Identifier as PayloadIdentifier
from projections.db import Connection
from projections.identity import EventRef, IdentityGraph, IdentityRules, Merge, Rejected
from projections.identity import postgres as store
from projections.identity.identifiers import IdentifierKind
from projections.identity.records import TOUCHLOG_NAMESPACE
from projections.identity.rules import identifiers_of

log = structlog.get_logger()

RESOLVER_SYSTEM = "touchlog-identity"
Outgoing = tuple[str, Touchpoint]  # (customer id, event) for touchlog.resolved


def merge_event(merge: Merge, cause: Touchpoint) -> CustomerMerged:
    """The ``customer.merged`` a resolution implies: id and time derived from its cause."""
    digest = (
        f"merge/{cause.source.system}/{cause.message_id}/{merge.survivor}/{','.join(merge.merged)}"
    )
    return CustomerMerged(
        message_id=str(uuid.uuid5(TOUCHLOG_NAMESPACE, digest)),
        occurred_at=cause.occurred_at,
        source=Source(
            system=RESOLVER_SYSTEM, business_unit=cause.source.business_unit, channel=Channel.APP
        ),
        subject={"customer_id": merge.survivor},
        causation_id=cause.message_id,
        correlation_id=cause.correlation_id,
        payload=CustomerMergedPayload(
            surviving_customer_id=merge.survivor,
            merged_customer_ids=merge.merged,
            reason=merge.reason,
            merged_by=RESOLVER_SYSTEM,
        ),
    )


def _ref(event: Touchpoint) -> EventRef:
    return EventRef(event.source.system, event.message_id, event.occurred_at)


def _split_keys(identifiers: Sequence[PayloadIdentifier], rules: IdentityRules) -> list[str]:
    keys = []
    for ident in identifiers:
        raw = f"{ident.namespace}:{ident.value}" if ident.namespace else ident.value
        parsed = rules.identifier(IdentifierKind[ident.type.name], raw)
        if isinstance(parsed, Rejected):
            raise ValueError(f"identifier {ident} cannot be moved: {parsed.reason}")  # noqa: TRY004
        keys.append(parsed.key)
    return keys


def resolve_batch(
    graph: IdentityGraph, events: Sequence[Touchpoint]
) -> tuple[list[Outgoing], list[tuple[str, str, str, str]], list[tuple[str, str, str]]]:
    """Resolve events in order; pure given the graph. Returns what to publish, the merges
    to record and the identifiers reported as not matched."""
    outgoing: list[Outgoing] = []
    merges: list[tuple[str, str, str, str]] = []
    not_matched: list[tuple[str, str, str]] = []
    for event in events:
        if isinstance(event, CustomerSplit | CustomerMerged):
            try:
                outgoing.append(_apply_decision(graph, event, merges))
            except (LookupError, ValueError) as exc:
                raise Unapplicable(f"{event.type} {event.message_id}: {exc}") from exc
            continue
        resolution = graph.resolve(event.subject, _ref(event))
        for merge in resolution.merges:
            merged = merge_event(merge, event)
            merges += [(merge.survivor, m, merge.reason, merged.message_id) for m in merge.merged]
            outgoing.append((merge.survivor, merged))
        not_matched += [(key, reason, event.message_id) for key, reason in resolution.not_matched]
        outgoing.append((resolution.customer_id, event))
    return outgoing, merges, not_matched


class IdentityResolver:
    """The resolver as the projection runner sees it (a view that also publishes)."""

    name = "identity_v1"

    def __init__(self, rules: IdentityRules, producer: AIOKafkaProducer, topic: str) -> None:
        self.rules = rules
        self.producer = producer
        self.topic = topic

    async def create(self, conn: Connection) -> None:
        await store.create_tables(conn)

    def changes(self, events: Sequence[Touchpoint]) -> Sequence[Touchpoint]:
        return events  # resolution needs the graph: it happens in write, in order

    async def write(self, conn: Connection, events: Sequence[Touchpoint]) -> None:
        if not events:
            return
        keys: set[str] = set()
        customer_ids: set[str] = set()
        for event in events:
            identifiers, _ = identifiers_of(event.subject, self.rules)
            keys.update(i.key for i in identifiers)
            if isinstance(event, CustomerSplit | CustomerMerged):
                customer_ids.update(_customers_named(event))
        graph = await store.load_graph(conn, self.rules, keys, customer_ids)
        outgoing, merges, not_matched = resolve_batch(graph, events)
        # Acknowledged by the broker before the graph and the offsets commit.
        futures = [
            await self.producer.send(self.topic, encode_resolved(cid, event), key=cid.encode())
            for cid, event in outgoing
        ]
        await asyncio.gather(*futures)
        await store.persist(conn, graph.changes(), merges, not_matched)
        if merges:
            log.info("customers_merged", merges=len(merges))


def _apply_decision(
    graph: IdentityGraph,
    event: CustomerSplit | CustomerMerged,
    merges: list[tuple[str, str, str, str]],
) -> Outgoing:
    """A person's split or confirmed merge, applied to the graph."""
    if isinstance(event, CustomerSplit):
        p = event.payload
        keys = _split_keys(p.identifiers_moved, graph.rules)
        graph.split(p.original_customer_id, p.new_customer_id, keys, _ref(event))
        return (p.original_customer_id, event)
    m = event.payload
    merge = graph.merge(m.surviving_customer_id, list(m.merged_customer_ids), m.reason)
    merges += [(merge.survivor, merged, merge.reason, event.message_id) for merged in merge.merged]
    return (merge.survivor, event)


def _customers_named(event: CustomerSplit | CustomerMerged) -> list[str]:
    if isinstance(event, CustomerSplit):
        return [event.payload.original_customer_id, event.payload.new_customer_id]
    return [event.payload.surviving_customer_id, *event.payload.merged_customer_ids]
