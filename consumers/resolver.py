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

from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from consumers.arrivals import Arrival, arrivals, arrivals_in_helper
from consumers.helper_process import HelperProcess
from consumers.publishing import publish_all
from consumers.view import Unapplicable
from events import InvalidEvent
from events.codec import Codec
from events.resolved import encode_resolved, resolved_value
from projections.db import Connection
from projections.identity import IdentityGraph, IdentityRules
from projections.identity import postgres as store
from projections.identity.batches import DecisionRefused, customers_named, resolve_batch
from projections.identity.identifiers import IdentifierKind

log = structlog.get_logger()


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
    shared_schema: tuple[str, ...] = ()

    async def decode(
        self, values: Sequence[bytes | None], codec: Codec[Any]
    ) -> list[Arrival | InvalidEvent]:
        """Records → arrivals (decoded, identifiers parsed), in the helper process if any:
        there it overlaps the resolution and writing of the batch before. (``codec``, the
        runner's, is not used: the helper decodes with ``TOUCHPOINTS`` itself.)"""
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
                customer_ids.update(customers_named(event.decision))
        graph = await self._graph_for(conn, keys, customer_ids)
        try:
            batch = resolve_batch(graph, events)
        except DecisionRefused as exc:
            raise Unapplicable(str(exc)) from exc
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
                for cid, event in batch.outgoing
            ],
        )
        await store.persist(conn, graph.changes(), batch.merges, batch.not_matched, batch.rejected)
        graph.clear_changes()
        self._pending = (graph, self._known_keys | keys)
        if batch.merges:
            log.info("customers_merged", merges=len(batch.merges))

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
            graph.absorb(await store.load_slice(conn, keys - known, new_customers))
        return graph
