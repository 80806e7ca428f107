"""A customer's erasure: their data keys shredded, every copy of their personal data purged.

``Erasure.erase`` finds the customer, every customer merged into it (in every version of
the identity graph) and every data subject recorded for them (``privacy.subjects``). In
one transaction it then shreds the subjects' keys, records them as erased, and purges or
anonymises each table that holds personal data, as that table's own classification says
(``privacy.stores``: derived from ``pg_catalog``, never a hand-kept list; a table with no
classification stops the erasure before anything changes). The log keeps its records:
their personal fields were sealed with the keys just shredded, and read ``[erased]``
everywhere from now on. Last, a ``customer.erased`` event, with no personal data, tells
the views.

The result is an ``ErasureReceipt``: each store (table, topic, key store, key caches) and
what was done there. It is kept in ``privacy_receipts``, and the erasure is in the access
audit (who, why).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from events.envelope import Channel, Source, Subject
from events.touchpoints import CustomerErased, CustomerErasedPayload, Touchpoint
from privacy import keys, subjects
from privacy.keys import MasterKey, PostgresKeyStore
from privacy.purge import StoreErased, UnknownCustomer, erase_in, family_of, gather
from privacy.stores import stores
from projections.db import Connection, create_tables

log = structlog.get_logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS privacy_receipts (
    receipt_id   text        PRIMARY KEY,
    customer_id  text        NOT NULL,
    erased_at    timestamptz NOT NULL,
    erased_by    text        NOT NULL,
    role         text        NOT NULL,
    reason       text        NOT NULL,
    receipt      jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS privacy_receipts_customer ON privacy_receipts (customer_id);
COMMENT ON TABLE privacy_receipts IS
    'touchlog:no-personal-data (erasure receipts: customer ids, counts, who erased and why)';
"""

ATTEMPTS = 3
"""Tries of an erasure's transaction when PostgreSQL breaks a deadlock with a live view."""

SOURCE = Source(system="touchlog-privacy", business_unit="group", channel=Channel.APP)
"""The source of ``customer.erased`` events."""


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    receipt_id: str
    customer_id: str
    merged_customer_ids: list[str]
    erased_at: datetime
    erased_by: str
    role: str
    reason: str
    subjects: int
    keys_shredded: int
    stores: list[StoreErased]
    event_message_id: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["erased_at"] = self.erased_at.isoformat()
        return found


Publish = Callable[[Touchpoint], Awaitable[object]]


class Erasure:
    """Erases customers on one database. ``publish``: sends ``customer.erased`` to the log
    (None: not published, the receipt says so). ``topics``: the topics whose records keep
    their sealed fields (named in the receipt). ``forget``: drops this process's key cache."""

    def __init__(
        self,
        master: MasterKey,
        *,
        publish: Publish | None = None,
        topics: Sequence[str] = (),
        key_cache_seconds: float = 60.0,
        forget: Callable[[], None] | None = None,
    ) -> None:
        self.master = master
        self.publish = publish
        self.topics = list(topics)
        self.key_cache_seconds = key_cache_seconds
        self.forget = forget

    async def erase(
        self, db: Any, customer_id: str, *, reason: str, who: str, role: str
    ) -> ErasureReceipt:
        """Erase ``customer_id`` (``db``: a pool). Raises ``ValueError`` for a blank reason,
        ``UnknownCustomer``, ``privacy.stores.UnclassifiedTables`` (nothing changed)."""
        if not reason or not reason.strip():
            raise ValueError("reason: say why the customer is erased (e.g. 'GDPR art. 17 request')")
        receipt_id = f"er_{uuid.uuid4().hex[:20]}"
        async with db.acquire() as conn:
            await create_tables(conn, keys.SCHEMA, subjects.SCHEMA, SCHEMA)
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    async with conn.transaction():
                        receipt = await self._erase_once(
                            conn, customer_id, receipt_id, reason.strip(), who, role
                        )
                    break
                except asyncpg.DeadlockDetectedError:
                    # Live views lock the same rows in their own order: all or nothing, again.
                    if attempt == ATTEMPTS:
                        raise
                    log.warning("erasure_retried", customer_id=customer_id, attempt=attempt)
        shredded = receipt.keys_shredded
        if self.forget is not None:
            self.forget()
        log.info(
            "customer_erased",
            customer_id=receipt.customer_id,
            receipt_id=receipt_id,
            keys_shredded=shredded,
        )
        return await self._announce(db, receipt)

    async def _erase_once(
        self, conn: Connection, customer_id: str, receipt_id: str, reason: str, who: str, role: str
    ) -> ErasureReceipt:
        found_stores = await stores(conn)
        family = await family_of(conn, found_stores, customer_id)
        found = await gather(conn, found_stores, family)
        key_store = PostgresKeyStore(conn, self.master)
        shredded = await key_store.shred_subjects(found.refs, f"erasure {receipt_id}")
        await subjects.erase(conn, family[0], found.refs)
        done = [await erase_in(conn, store, found) for store in found_stores]
        erased_at = await conn.fetchval("SELECT now()")
        keys_erased = StoreErased(
            "privacy_keys",
            "key store",
            f"{shredded} data keys of {len(found.refs)} subjects shredded",
            shredded,
        )
        receipt = ErasureReceipt(
            receipt_id,
            family[0],
            family[1:],
            erased_at,
            who,
            role,
            reason,
            len(found.refs),
            shredded,
            [keys_erased, *done, *self._outside_tables(shredded)],
        )
        await _audit(conn, receipt)
        await conn.execute(
            "INSERT INTO privacy_receipts (receipt_id, customer_id, erased_at, erased_by, "
            "role, reason, receipt) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
            receipt_id,
            receipt.customer_id,
            erased_at,
            who,
            role,
            reason,
            json.dumps(receipt.as_json()),
        )
        return receipt

    def _outside_tables(self, shredded: int) -> list[StoreErased]:
        sealed = (
            f"records kept; their personal fields are sealed with the {shredded} shredded keys "
            "and read [erased] in every reader, replay and rebuild"
        )
        return [
            *(StoreErased(topic, "topic", sealed) for topic in self.topics),
            StoreErased(
                "key caches of running processes",
                "key cache",
                f"a key cached before the erasure opens for at most {self.key_cache_seconds:g} s "
                "more (key_cache_seconds); this process forgot its cache, and the retention "
                "sweeps of the next day purge again what other processes wrote meanwhile",
            ),
        ]

    async def _announce(self, db: Any, receipt: ErasureReceipt) -> ErasureReceipt:
        if self.publish is None:
            return replace(receipt, warnings=["customer.erased not published: no publisher"])
        event = CustomerErased(
            occurred_at=receipt.erased_at,
            source=SOURCE,
            subject=Subject(customer_id=receipt.customer_id),
            payload=CustomerErasedPayload(
                customer_id=receipt.customer_id,
                merged_customer_ids=tuple(receipt.merged_customer_ids),
                erased_at=receipt.erased_at,
                receipt_id=receipt.receipt_id,
                subjects=receipt.subjects,
                keys_shredded=receipt.keys_shredded,
                erased_by=receipt.erased_by,
            ),
        )
        try:
            await self.publish(event)
        except Exception as exc:  # noqa: BLE001 - the erasure stands; the receipt says what failed
            log.warning(
                "customer_erased_not_published", receipt_id=receipt.receipt_id, error=str(exc)
            )
            return replace(receipt, warnings=[f"customer.erased not published: {exc}"])
        announced = replace(receipt, event_message_id=event.message_id)
        await db.execute(
            "UPDATE privacy_receipts SET receipt = $2::jsonb WHERE receipt_id = $1",
            receipt.receipt_id,
            json.dumps(announced.as_json()),
        )
        return announced


async def _audit(conn: Connection, receipt: ErasureReceipt) -> None:
    from api.audit_log import record_access  # the read side's audit, one record for both

    await record_access(
        conn,
        actor=receipt.erased_by,
        role=receipt.role,
        action="erasure",
        customer_ids=[receipt.customer_id, *receipt.merged_customer_ids],
        tier="restricted",
        reason=receipt.reason,
        detail={"receipt_id": receipt.receipt_id, "keys_shredded": receipt.keys_shredded},
    )


def receipt_text(receipt: ErasureReceipt) -> str:
    """The receipt as a person reads it (the CLI)."""
    lines = [
        f"erasure {receipt.receipt_id}: customer {receipt.customer_id}"
        + (
            f" (and merged {', '.join(receipt.merged_customer_ids)})"
            if receipt.merged_customer_ids
            else ""
        ),
        f"  at {receipt.erased_at.astimezone(UTC).isoformat(timespec='seconds')} "
        f"by {receipt.erased_by} ({receipt.role}): {receipt.reason}",
        f"  {receipt.subjects} data subjects, {receipt.keys_shredded} keys shredded",
    ]
    width = max(len(s.store) for s in receipt.stores)
    lines += [f"  {s.kind:<9}  {s.store:<{width}}  {s.action}" for s in receipt.stores]
    if receipt.event_message_id:
        lines.append(f"  customer.erased published: {receipt.event_message_id}")
    lines += [f"  warning: {w}" for w in receipt.warnings]
    return "\n".join(lines)


__all__ = ["Erasure", "ErasureReceipt", "Publish", "StoreErased", "UnknownCustomer", "receipt_text"]
