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

Sealed records (``privacy.sealing``) are opened there with the batch's data keys, fetched
here; each is forwarded sealed, as read, and the ref of its subject is recorded with its
customer (``privacy.subjects``) in the same transaction. A record that came in clear is
sealed before it is forwarded when the resolver has a sealer, with nonces derived from
its content, so that a replay still forwards the same bytes. A subject whose key was
shredded is resolved to the customer erasure recorded for it (``privacy_erasures``), else
the one the resolver recorded for it, else a customer of its own: never by ``[erased]``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from aiokafka import AIOKafkaProducer

from consumers.arrivals import Arrival, arrivals, arrivals_in_helper
from consumers.helper_process import HelperProcess
from consumers.publishing import publish_all
from consumers.view import Unapplicable
from events import InvalidEvent
from events.codec import Codec
from events.resolved import encode_resolved, resolved_value
from privacy import subjects
from privacy.keys import Period
from privacy.runtime import SCHEMAS as privacy_tables
from privacy.sealing import key_ids, seal_document, seal_value
from projections.db import Connection
from projections.identity import IdentityGraph, IdentityRules
from projections.identity import postgres as store
from projections.identity.batches import DecisionRefused, customers_named, resolve_batch
from projections.identity.identifiers import Identifier, IdentifierKind
from projections.identity.records import TOUCHLOG_NAMESPACE

if TYPE_CHECKING:
    from privacy.runtime import Keys

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
        topic: str | Callable[[], str],
        helper: HelperProcess | None = None,
        keys: Keys | None = None,
    ) -> None:
        self.rules = rules
        # Opens sealed records; with a sealer, seals those that came in clear.
        self.keys = keys
        # Its data keys and subjects live beside every version (``privacy.runtime``).
        self.shared_schema: tuple[str, ...] = () if keys is None else privacy_tables
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
        raw: dict[str, bytes | None] = {}
        nonce_key = None
        if self.keys is not None:
            await self.keys.ring.start()
            raw = await self.keys.ring.raw_opening_keys(key_ids(values))
            nonce_key = self.keys.ring.nonce_key()
        if self.helper is None:
            return arrivals(self.rules, values, raw, nonce_key)
        return await self.helper.run(
            arrivals_in_helper, self._rules_json, list(values), raw, nonce_key
        )

    def changes(self, events: Sequence[Arrival]) -> Sequence[Arrival]:
        """Resolution needs the graph: it happens in ``write``, in order."""
        return events

    async def write(self, conn: Connection, events: Sequence[Arrival]) -> None:
        if not events:
            return
        events = await self._erased_subjects_placed(conn, events)
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
        forwarded = await self._forwarded([e for _, e in batch.outgoing if isinstance(e, Arrival)])
        # Acknowledged by the broker before the graph and the offsets commit.
        await publish_all(
            self.producer,
            self.topic() if callable(self.topic) else self.topic,  # the version's own
            [
                (
                    cid.encode(),
                    resolved_value(cid, forwarded[id(event)][0], forwarded[id(event)][2])
                    if isinstance(event, Arrival)
                    else encode_resolved(cid, event),
                )
                for cid, event in batch.outgoing
            ],
        )
        await subjects.record(
            conn,
            (
                (ref, cid)
                for cid, event in batch.outgoing
                if isinstance(event, Arrival)
                for ref in forwarded[id(event)][1]
            ),
        )
        await store.persist(conn, graph.changes(), batch.merges, batch.not_matched, batch.rejected)
        graph.clear_changes()
        self._pending = (graph, self._known_keys | keys)
        if batch.merges:
            log.info("customers_merged", merges=len(batch.merges))

    async def _erased_subjects_placed(
        self, conn: Connection, events: Sequence[Arrival]
    ) -> Sequence[Arrival]:
        """Events whose subject was erased, named by the customer it belonged to: the one
        erasure recorded, else the one this resolver recorded for the subject, else one of
        the subject's own (the same for each of its events, never merged by ``[erased]``)."""
        refs = {e.erased_subject for e in events if e.erased_subject is not None}
        if not refs:
            return events
        found = await subjects.erased_customers(conn, refs)
        if missing := refs - set(found):
            rows = await conn.fetch(
                "SELECT subject_ref, min(customer_id) AS customer_id FROM privacy_subjects "
                "WHERE subject_ref = ANY($1::text[]) GROUP BY subject_ref",
                sorted(missing),
            )
            found |= {r["subject_ref"]: r["customer_id"] for r in rows}
        placed = []
        for event in events:
            ref = event.erased_subject
            if ref is not None:
                customer = found.get(ref) or str(uuid.uuid5(TOUCHLOG_NAMESPACE, f"erased/{ref}"))
                named = Identifier(IdentifierKind.CUSTOMER_ID, customer)
                event = dataclasses.replace(event, identified=([named], []))
            placed.append(event)
        return placed

    async def _forwarded(
        self, events: Sequence[Arrival]
    ) -> dict[int, tuple[bytes, tuple[str, ...], str | None]]:
        """By ``id(event)``: the value to forward, the refs of its subjects and its summary.
        Sealed records go as read; clear ones sealed when the resolver has a sealer."""
        sealer = None if self.keys is None else self.keys.sealer
        clear = [e for e in events if e.clear is not None] if sealer is not None else []
        result = {id(e): (e.value, e.subject_refs, e.summary) for e in events}
        if sealer is None or not clear:
            return result
        ring = sealer.ring
        await ring.start()
        slots = []
        for event in clear:
            subject_key, type_name = event.clear  # type: ignore[misc]
            period = Period.of(sealer.retention.of(type_name), event.ref.occurred_at)
            slots.append((ring.subject_ref(subject_key), period))
        sealing = await ring.sealing_keys(slots)
        nonce_key = ring.nonce_key()
        for event, slot in zip(clear, slots, strict=True):
            key_id, aead = sealing[slot]
            doc = seal_document(msgspec.json.decode(event.value), key_id, aead, nonce_key)
            summary = event.summary
            if summary is not None:
                summary = seal_value(aead, key_id, "summary", summary, nonce_key)
            result[id(event)] = (msgspec.json.encode(doc), (slot[0],), summary)
        return result

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
