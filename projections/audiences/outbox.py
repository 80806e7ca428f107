"""Publishing the entries and exits the audience view wrote to its outbox.

Each pass takes the oldest unpublished rows of the live version (``FOR UPDATE SKIP
LOCKED``: two publishers never take the same row), sends those the topic has not had
(``audience_published``), waits for the broker's acknowledgement, then marks them, all in
one transaction. A crash after the send and before the commit sends the same records again,
with the same ids: downstream recognises them (at least once on the wire, each id once
in ``audience_published``). Kafka is the caller's: ``send`` publishes (key, value) pairs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import structlog

from projections.audiences.postgres import OUTBOX, PUBLISHED

log = structlog.get_logger()

Send = Callable[[Sequence[tuple[bytes, bytes]]], Awaitable[None]]


class AudiencePublisher:
    def __init__(
        self, pool: asyncpg.Pool, send: Send, *, batch: int = 2000, poll_interval: float = 0.1
    ) -> None:
        self.pool = pool
        self.send = send
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

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop``; a failure surfaces (the stage stops, and restarts
        from the outbox)."""
        while not stop.is_set():
            try:
                if await self.publish_pending():
                    continue
            except asyncpg.UndefinedTableError:
                pass  # the view's first batch has not created its live version yet
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)
