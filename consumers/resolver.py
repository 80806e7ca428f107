"""The identity resolver stage: ``touchlog.touchpoints`` → graph → ``touchlog.resolved``.

It runs inside the projection runner, as a view whose ``write`` also publishes:
for each batch, in the runner's transaction, it loads the slice of the identity
graph the batch can touch, resolves the events in order (pure, deterministic),
publishes every event stamped with its customer — and a ``customer.merged`` for
every merge — and waits for the broker's acknowledgement *before* the graph
changes and offsets commit. A batch replayed after a crash resolves to the same
customers and republishes identical records (same bytes, same message ids),
which downstream deduplication by message id absorbs.

Records are decoded and their identifiers parsed in the stage's helper process
(``consumers/arrivals.py``) while this process resolves and writes the batch before.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer

from consumers.arrivals import Arrival, arrivals, arrivals_in_helper
from consumers.helper_process import HelperProcess
from consumers.publishing import publish_all
from consumers.view import Unapplicable
from events import InvalidEvent
from events.envelope import Channel, Source
from events.resolved import encode_resolved, resolved_value
from events.touchpoints import CustomerMerged, CustomerMergedPayload, CustomerSplit
from events.touchpoints.identity import Identifier as PayloadIdentifier
from projections.db import Connection
from projections.identity import EventRef, IdentityGraph, IdentityRules, Merge, Rejected
from projections.identity import postgres as store
from projections.identity.identifiers import IdentifierKind
from projections.identity.records import TOUCHLOG_NAMESPACE

log = structlog.get_logger()

RESOLVER_SYSTEM = "touchlog-identity"
# (customer id, what to publish): an event read (forwarded as read) or a merge decided here
Outgoing = tuple[str, Arrival | CustomerMerged]


def merge_event(merge: Merge, cause: Arrival) -> CustomerMerged:
    """The ``customer.merged`` a resolution implies: id and time derived from its cause."""
    digest = (
        f"merge/{cause.ref.source_system}/{cause.message_id}/{merge.survivor}/"
        f"{','.join(merge.merged)}"
    )
    return CustomerMerged(
        message_id=str(uuid.uuid5(TOUCHLOG_NAMESPACE, digest)),
        occurred_at=cause.ref.occurred_at,
        source=Source(
            system=RESOLVER_SYSTEM, business_unit=cause.business_unit, channel=Channel.APP
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
    graph: IdentityGraph, events: Sequence[Arrival]
) -> tuple[list[Outgoing], list[tuple[str, str, str, str]], list[tuple[str, str, str]]]:
    """Resolve events in order; pure given the graph. Returns what to publish, the merges
    to record and the identifiers reported as not matched."""
    outgoing: list[Outgoing] = []
    merges: list[tuple[str, str, str, str]] = []
    not_matched: list[tuple[str, str, str]] = []
    for event in events:
        if (decision := event.decision) is not None:
            try:
                outgoing.append((_apply_decision(graph, decision, event.ref, merges), event))
            except (LookupError, ValueError) as exc:
                raise Unapplicable(f"{decision.type} {event.message_id}: {exc}") from exc
            continue
        resolution = graph.resolve_identified(event.identified, event.ref)
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

    # Links held in the cached graph before it is dropped and rebuilt from PostgreSQL.
    max_cached_links = 3_000_000

    def __init__(
        self,
        rules: IdentityRules,
        producer: AIOKafkaProducer,
        topic: str,
        helper: HelperProcess | None = None,
    ) -> None:
        self.rules = rules
        self.producer = producer
        self.topic = topic
        # Where records are decoded and their identifiers parsed; None: in this process.
        self.helper = helper
        self._rules_json = rules.model_dump_json()
        # The committed graph, kept between batches so that a batch loads only what it
        # newly touches. The resolver is the graph's only writer; the cache is dropped
        # whenever a transaction does not commit and on every partition assignment.
        self._graph: IdentityGraph | None = None
        self._known_keys: set[str] = set()
        self._pending: tuple[IdentityGraph, set[str]] | None = None

    def committed(self) -> None:
        """The runner's transaction committed: what ``write`` built is now the stored graph."""
        if self._pending is not None:
            graph, keys = self._pending
            self._pending = None
            if graph.size() <= self.max_cached_links:
                self._graph, self._known_keys = graph, keys

    def reset(self) -> None:
        """Forget the cache (partitions reassigned: another worker may have written)."""
        self._graph, self._known_keys, self._pending = None, set(), None

    schema = (store.SCHEMA,)

    async def decode(self, values: Sequence[bytes | None]) -> list[Arrival | InvalidEvent]:
        """Records → arrivals (decoded, identifiers parsed), in the helper process if any:
        there it overlaps the resolution and writing of the batch before."""
        if self.helper is None:
            return arrivals(self.rules, values)
        return await self.helper.run(arrivals_in_helper, self._rules_json, list(values))

    def changes(self, events: Sequence[Arrival]) -> Sequence[Arrival]:
        """Resolution needs the graph: it happens in ``write``, in order."""
        return events

    async def write(self, conn: Connection, events: Sequence[Arrival]) -> None:
        if not events:
            return
        keys: set[str] = set()
        customer_ids: set[str] = set()
        for event in events:
            for identifier in event.identified[0]:
                keys.add(identifier.key)
                # A customer a channel names is a customer row, not a link: load it (with
                # its links) by id, or a process that has not met it yet takes it for new.
                if identifier.kind is IdentifierKind.CUSTOMER_ID:
                    customer_ids.add(identifier.value)
            if event.decision is not None:
                customer_ids.update(_customers_named(event.decision))
        graph = await self._graph_for(conn, keys, customer_ids)
        outgoing, merges, not_matched = resolve_batch(graph, events)
        # Acknowledged by the broker before the graph and the offsets commit.
        await publish_all(
            self.producer,
            self.topic,
            [
                (
                    cid.encode(),
                    resolved_value(cid, event.value)
                    if isinstance(event, Arrival)
                    else encode_resolved(cid, event),
                )
                for cid, event in outgoing
            ],
        )
        await store.persist(conn, graph.changes(), merges, not_matched)
        graph.clear_changes()
        self._pending = (graph, self._known_keys | keys)
        if merges:
            log.info("customers_merged", merges=len(merges))

    async def _graph_for(
        self, conn: Connection, keys: set[str], customer_ids: set[str]
    ) -> IdentityGraph:
        """The cached graph (taken: valid again only once this transaction commits), with
        what this batch newly touches loaded into it."""
        graph, known = self._graph, self._known_keys
        self._graph, self._known_keys = None, set()
        if graph is None:
            graph, known = IdentityGraph(self.rules), set()
        self._known_keys = known
        new_customers = {c for c in customer_ids if not graph.holds(c)}
        if keys - known or new_customers:
            await _load_into(graph, conn, keys - known, new_customers)
        return graph


async def _load_into(
    graph: IdentityGraph, conn: Connection, keys: set[str], customer_ids: set[str]
) -> None:
    rows = await store.load_slice(conn, keys, customer_ids)
    graph.absorb(
        links=rows.links,
        customers=rows.customers,
        merged_into=rows.merged_into,
        kept_apart=rows.kept_apart,
    )


def _apply_decision(
    graph: IdentityGraph,
    event: CustomerSplit | CustomerMerged,
    ref: EventRef,
    merges: list[tuple[str, str, str, str]],
) -> str:
    """A person's split or confirmed merge, applied to the graph; the customer it is about."""
    if isinstance(event, CustomerSplit):
        p = event.payload
        keys = _split_keys(p.identifiers_moved, graph.rules)
        graph.split(p.original_customer_id, p.new_customer_id, keys, ref)
        return p.original_customer_id
    m = event.payload
    # What the named records have become: a person confirming that A and B are one
    # person means A's and B's survivors are; if they already are one, nothing to do.
    survivor = graph.survivor(m.surviving_customer_id)
    others = sorted({graph.survivor(c) for c in m.merged_customer_ids} - {survivor})
    if not others:
        return survivor
    merge = graph.merge(survivor, others, m.reason)
    merges += [(merge.survivor, merged, merge.reason, event.message_id) for merged in merge.merged]
    return merge.survivor


def _customers_named(event: CustomerSplit | CustomerMerged) -> list[str]:
    if isinstance(event, CustomerSplit):
        return [event.payload.original_customer_id, event.payload.new_customer_id]
    return [event.payload.surviving_customer_id, *event.payload.merged_customer_ids]
