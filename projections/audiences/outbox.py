"""Publishing the entries and exits the audience view wrote to its outbox.

Each pass takes the oldest unpublished rows of the live version (``FOR UPDATE SKIP
LOCKED``: two publishers never take the same row), sends those the topic has not had
(``audience_published``), waits for the broker's acknowledgement, then marks them, all in
one transaction. A crash after the send and before the commit would send those records
again: so a publisher that starts first reads back the ids of the last ``batch`` records
of each partition of the topic (``recall``; a pass sends at most that many) and records
them as published. Each change reaches the topic once. Kafka is the caller's: ``send``
publishes (key, value) pairs, ``recall`` reads ids back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import structlog

from projections.audiences.postgres import OUTBOX, PUBLISHED, SHARED_SCHEMA
from projections.db import create_tables

log = structlog.get_logger()

Send = Callable[[Sequence[tuple[bytes, bytes]]], Awaitable[None]]
Recall = Callable[[int], Awaitable[set[str]]]
"""The ids of the last ``n`` records of each partition of the topic."""


class AudiencePublisher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        send: Send,
        recall: Recall | None = None,
        *,
        batch: int = 2000,
        poll_interval: float = 0.1,
    ) -> None:
        self.pool = pool
        self.send = send
        self.recall = recall
        self.batch = batch
        self.poll_interval = poll_interval

    async def publish_pending(self) -> int:
        """One pass: how many rows it took (0: nothing was pending)."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, customer_id, record FROM {OUTBOX} WHERE NOT published "
                "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch,
            )
            if not rows:
                return 0
            ids = [r["id"] for r in rows]
            already = {
                r["id"]
                for r in await conn.fetch(
                    f"SELECT id FROM {PUBLISHED} WHERE id = ANY($1::text[])", ids
                )
            }
            fresh = [r for r in rows if r["id"] not in already]
            await self.send([(r["customer_id"].encode(), bytes(r["record"])) for r in fresh])
            await conn.execute(
                f"INSERT INTO {PUBLISHED} (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                [r["id"] for r in fresh],
            )
            await conn.execute(
                f"UPDATE {OUTBOX} SET published = true WHERE id = ANY($1::text[])", ids
            )
        log.debug("audience_changes_published", sent=len(fresh), skipped=len(already))
        return len(rows)

    async def recalled(self) -> int:
        """Record as published the ids the topic's tail holds: a crash between a send and
        its commit leaves them unmarked. How many were new."""
        if self.recall is None:
            return 0
        ids = sorted(await self.recall(self.batch))
        async with self.pool.acquire() as conn:
            await create_tables(conn, SHARED_SCHEMA)  # maybe before the view's runner ran
            added = await conn.fetch(
                f"INSERT INTO {PUBLISHED} (id) SELECT unnest($1::text[]) "
                "ON CONFLICT DO NOTHING RETURNING id",
                ids,
            )
        log.info("audience_changes_recalled", on_topic=len(ids), unmarked=len(added))
        return len(added)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop``; a failure surfaces (the stage stops, and restarts
        from the outbox, recalling first what the topic already holds)."""
        await self.recalled()
        while not stop.is_set():
            try:
                if await self.publish_pending():
                    continue
            except asyncpg.UndefinedTableError:
                pass  # the view's first batch has not created its live version yet
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)
