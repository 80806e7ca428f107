"""Message ids the broker has acknowledged, by ``(source system, message_id)``, for a window.

A retried request finds its events here and is accepted again without a second copy in
the log. An id is recorded only after the broker acknowledged its event, so a publish
that failed can be retried; the gateway keeps ids between the acknowledgement and the
record in memory (``ingest``). Lookups made while one is running are grouped into one
query: under load, one round trip serves many requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

import asyncpg

from projections.db import Queryable

TABLE = "gateway_accepted"
DEFAULT_WINDOW = timedelta(days=7)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    source_system  text        NOT NULL,
    message_id     text        NOT NULL,
    accepted_at    timestamptz NOT NULL DEFAULT now(),
    -- message_id first: a lookup's ANY(message_ids) is then the index's leading column,
    -- whatever the planner believes of the table's size (a source-only scan is no option).
    PRIMARY KEY (message_id, source_system)
);
-- BRIN: ids are appended in time order; pruning by age needs no B-tree to maintain.
CREATE INDEX IF NOT EXISTS {TABLE}_by_age ON {TABLE} USING brin (accepted_at);
COMMENT ON TABLE {TABLE} IS 'touchlog:personal event=source_system:message_id action=delete';
"""

Key = tuple[str, str]
"""(source system, message_id)"""

T = TypeVar("T")
R = TypeVar("R")


class Grouped(Generic[T, R]):
    """Calls arriving while one runs are served together by the next: one ``run`` for all.

    ``run`` gets every queued item and returns one result per item, in order.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], max_items: int) -> None:
        self._run = run
        self._max = max_items
        self._queue: asyncio.Queue[tuple[list[T], asyncio.Future[list[R]]]] = asyncio.Queue()

    async def __call__(self, items: list[T]) -> list[R]:
        if not items:
            return []
        done: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((items, done))
        return await done

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        worker = asyncio.create_task(self._serve())
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _serve(self) -> None:
        while True:
            group = [await self._queue.get()]
            size = len(group[0][0])
            while not self._queue.empty() and size < self._max:
                group.append(self._queue.get_nowait())
                size += len(group[-1][0])
            try:
                results = await self._run([item for items, _ in group for item in items])
            except Exception as exc:  # noqa: BLE001  # not swallowed: every caller gets it
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            start = 0
            for items, done in group:
                if not done.done():
                    done.set_result(results[start : start + len(items)])
                start += len(items)


class DedupLedger:
    """The accepted ids of the last ``window``, in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool[Any], window: timedelta = DEFAULT_WINDOW) -> None:
        self._pool = pool
        self.window = window
        self._lookups: Grouped[Key, bool] = Grouped(self._lookup, max_items=20_000)

    def serving(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lookups.serving()

    async def seen(self, keys: list[Key]) -> list[bool]:
        """For each key: was it accepted within the window?"""
        return await self._lookups(keys)

    async def _lookup(self, keys: list[Key]) -> list[bool]:
        found = await seen(self._pool, keys, self.window)
        return [key in found for key in keys]

    async def record(self, keys: Sequence[Key]) -> None:
        await record(self._pool, keys)

    async def prune(self) -> int:
        return await prune(self._pool, self.window)


async def seen(conn: Queryable, keys: Sequence[Key], window: timedelta) -> set[Key]:
    by_source: dict[str, list[str]] = {}
    for source, message_id in keys:
        by_source.setdefault(source, []).append(message_id)
    found: set[Key] = set()
    for source, message_ids in by_source.items():  # nearly always one: a request's source
        rows = await conn.fetch(
            f"""
            SELECT message_id FROM {TABLE}
            WHERE message_id = ANY($2::text[]) AND source_system = $1
              AND accepted_at > now() - $3::interval
            """,
            source,
            message_ids,
            window,
        )
        found.update((source, r["message_id"]) for r in rows)
    return found


async def record(conn: Queryable, keys: Sequence[Key]) -> None:
    """Record acknowledged ids; an id older than the window starts a new one."""
    unique = list(dict.fromkeys(keys))  # ON CONFLICT cannot touch one row twice
    await conn.execute(
        f"""
        INSERT INTO {TABLE} (source_system, message_id)
        SELECT * FROM unnest($1::text[], $2::text[])
        ON CONFLICT (message_id, source_system) DO UPDATE SET accepted_at = now()
        """,
        [k[0] for k in unique],
        [k[1] for k in unique],
    )


async def prune(conn: Queryable, window: timedelta) -> int:
    """Forget ids older than the window; returns how many."""
    status = await conn.execute(
        f"DELETE FROM {TABLE} WHERE accepted_at <= now() - $1::interval", window
    )
    return int(status.rsplit(" ", 1)[-1])
