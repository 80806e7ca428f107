"""The checkpoint store of a versioned view (``projections/versions.py``).

A runner either follows the live version (the stages ``touchlog up`` runs) or writes one
given version (a rebuild). Each batch transaction first sets ``search_path`` to its
version's tables. A follower also reads the live version ``FOR SHARE``: a switch, which
updates that row, waits for the batch in flight, and the follower's next batch finds the
view switched, repositions from the new version's offsets and goes on there.

Runners hold a session advisory lock on their version — shared by followers, exclusive
for a rebuild — so a rebuild and a live runner of the same version never run together.
The runners of a rebuild by several processes (``touchlog/rebuild_workers.py``) take no
lock: the rebuild holds it for all of them, for as long as they run.

A view of ``touchlog.resolved`` reads the topic of the identity version it was built from
(``versions.resolved_topic``). A follower whose view was switched to a version reading
another topic than its own applies nothing (``SourceMoved``) until it is started again
on that topic (``touchlog.bootstrap.run_stages`` does so when identity is switched).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import asyncpg
import structlog

from consumers.checkpoints import SCHEMA, PostgresCheckpoints
from consumers.ports import Errors
from projections import versions
from projections.db import Connection, create_tables

log = structlog.get_logger()


class VersionMoved(Exception):  # a reason to reposition, like a lost connection
    """The live version changed under a following runner: it repositions on the new one."""


class SourceMoved(VersionMoved):
    """The live version reads another topic than the runner's: it must be started anew."""


class VersionBusy(versions.VersionError):
    """Another runner holds the version a rebuild would write."""


class VersionedCheckpoints(PostgresCheckpoints):
    """Offsets and dead letters as ``PostgresCheckpoints`` keeps them, per version of
    ``view`` (offsets under ``versions.consumer(name, version)``)."""

    outages: Errors = (*PostgresCheckpoints.outages, VersionMoved)

    def __init__(
        self,
        pool: asyncpg.Pool,
        view: str,
        dsn: str,
        *,
        version: int | None = None,
        resolved: str | None = None,
        lock_held_by_rebuild: bool = False,
    ) -> None:
        super().__init__(pool)
        if lock_held_by_rebuild and version is None:
            raise ValueError("only a rebuild's runners, writing a given version, skip its lock")
        self.view = view
        self.dsn = dsn
        """The lock is held on a connection of its own, outside ``pool``: a runner holds it
        for as long as it runs, and the pool is sized for batches."""
        self.resolved = resolved
        """For a view of ``touchlog.resolved``: that topic's configured name (identity
        version 1's), from which each version's own is named."""
        self._sources: dict[int, str] = {}
        self.follows_live = version is None
        self.version = version or 0
        self.lock_held_by_rebuild = lock_held_by_rebuild
        """Used only by a rebuild by several processes: it holds the version's exclusive
        lock on behalf of all its runners, in it and in its worker processes (an exclusive
        lock is one session's)."""
        self._default_path = "public"
        self._holder: Any = None
        self._held: int | None = None
        self._holding_lock = asyncio.Lock()

    @property
    def search_path(self) -> str:
        return versions.search_path(self.view, self.version, self._default_path)

    async def prepare(self, schema: Sequence[str], shared: Sequence[str] = ()) -> None:
        async with self.pool.acquire() as conn:
            await create_tables(conn, SCHEMA)
            self._default_path = await conn.fetchval("SELECT current_setting('search_path')")
            if self.follows_live:
                self.version = await versions.ensure_live(conn, self.view, schema, shared)
            else:
                await versions.prepare_version(conn, self.view, self.version, schema, shared)
        await self._hold_current()

    async def close(self) -> None:
        """Release the version's lock (the runner has stopped)."""
        holder, self._holder, self._held = self._holder, None, None
        if holder is not None:
            await holder.close()  # and with it its session's locks

    # --- the lock on a version ---------------------------------------------------------

    async def _hold(self, version: int) -> None:
        """Lock ``version`` (shared when following, else exclusive), then let go of the
        version held before."""
        holder = await asyncpg.connect(self.dsn)
        key = versions.lock_key(self.view, version)
        try:
            if self.follows_live:  # waits while a switch to it finishes
                locked = await holder.fetchval(
                    "SELECT pg_advisory_lock_shared(hashtext($1)) IS NOT NULL", key
                )
            else:
                locked = await holder.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key)
        except BaseException:
            await holder.close()
            raise
        if not locked:
            await holder.close()
            raise VersionBusy(
                f"another runner is writing {self.view} v{version}: "
                "a rebuild or a switch of it is already running"
            )
        await self.close()
        self._holder, self._held = holder, version

    async def _follow(self) -> None:
        """Hold the version this runner writes; a follower moves to the live one."""
        if self.follows_live:
            live = await versions.live_version(self.pool, self.view)
            if live is not None and live != self.version:
                log.info("view_version_followed", view=self.view, version=live, was=self.version)
                self.version = live
        await self._hold_current()

    async def _hold_current(self) -> None:
        """Hold ``self.version`` unless held already: a view of two topics (the trigger
        store) runs two runners on one store, one lock."""
        if self.lock_held_by_rebuild:
            return
        async with self._holding_lock:
            if not self._holding(self.version):
                await self._hold(self.version)

    def _holding(self, version: int) -> bool:
        return self._held == version and self._holder is not None and not self._holder.is_closed()

    # --- the checkpoint store port -----------------------------------------------------

    async def _check_source(self, topic: str) -> None:
        """Raise ``SourceMoved`` if this version reads another topic than ``topic``."""
        if self.resolved is None:
            return
        if self.version not in self._sources:  # fixed once the version is begun
            identity = await versions.identity_version(self.pool, self.view, self.version)
            self._sources[self.version] = versions.resolved_topic(self.resolved, identity)
        if (source := self._sources[self.version]) != topic:
            raise SourceMoved(f"{self.view} v{self.version} reads {source}, not {topic}")

    async def stored_offsets(self, consumer: str, topic: str) -> dict[int, int]:
        await self._follow()
        await self._check_source(topic)
        return await super().stored_offsets(versions.consumer(consumer, self.version), topic)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            if self.follows_live:
                live = await conn.fetchval(
                    "SELECT version FROM live_views, set_config('search_path', $2, true) "
                    "WHERE view = $1 FOR SHARE OF live_views",
                    self.view,
                    self.search_path,
                )
                if live != self.version:
                    raise VersionMoved(f"{self.view} v{live} is live now, not v{self.version}")
            else:
                await conn.execute("SELECT set_config('search_path', $1, true)", self.search_path)
            yield conn

    async def lock_offsets(
        self, tx: Connection, consumer: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, int]:
        await self._check_source(topic)
        return await super().lock_offsets(
            tx, versions.consumer(consumer, self.version), topic, partitions
        )

    async def advance(
        self, tx: Connection, consumer: str, topic: str, next_offsets: Mapping[int, int]
    ) -> None:
        await super().advance(tx, versions.consumer(consumer, self.version), topic, next_offsets)
