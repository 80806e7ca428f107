"""Channel systems and their write keys, in PostgreSQL.

A write key is bound to one source system, its business unit and default channel, and
says how the system's Segment ``userId`` is read. Only its SHA-256 is stored: keys are
32 random bytes, so a plain digest cannot be reversed and a lookup stays one index probe.
The first characters (``key_id``) are kept in clear to name a key in lists and revocations.

The gateway caches keys it has seen; ``revoke`` notifies it (``NOTIFY``), and a cached
key is checked again after ``ttl`` seconds in any case.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from events import Channel
from projections.db import Queryable

log = structlog.get_logger()

TABLE = "gateway_sources"
CHANNEL = "touchlog_gateway_sources"
KEY_PREFIX = "tlk_"
KEY_ID_LENGTH = len(KEY_PREFIX) + 8
USER_ID_AS_CUSTOMER_ID = "customer_id"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key_hash       text        PRIMARY KEY,
    key_id         text        NOT NULL UNIQUE,
    system         text        NOT NULL,
    business_unit  text        NOT NULL,
    channel        text        NOT NULL,
    user_id_type   text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
COMMENT ON TABLE {TABLE} IS 'touchlog:no-personal-data (write keys of source systems)';
"""


@dataclass(frozen=True, slots=True)
class Source:
    """Who a write key speaks for."""

    key_id: str
    system: str
    business_unit: str
    channel: Channel
    user_id_type: str
    """``customer_id``: Segment userIds are touchlog customer ids; else the external id
    type they are recorded under (by default the system's name)."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    source: Source
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def add(
    conn: Queryable,
    system: str,
    business_unit: str,
    channel: Channel,
    user_id_type: str | None = None,
) -> tuple[str, Source]:
    """A new write key for ``system``; the key itself is returned once and never stored."""
    key = new_key()
    source = Source(key[:KEY_ID_LENGTH], system, business_unit, channel, user_id_type or system)
    await conn.execute(
        f"INSERT INTO {TABLE} (key_hash, key_id, system, business_unit, channel, user_id_type) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        key_hash(key),
        source.key_id,
        system,
        business_unit,
        channel.value,
        source.user_id_type,
    )
    return key, source


def _source(row: asyncpg.Record) -> Source:
    return Source(
        row["key_id"],
        row["system"],
        row["business_unit"],
        Channel(row["channel"]),
        row["user_id_type"],
    )


async def listing(conn: Queryable) -> list[SourceRecord]:
    rows = await conn.fetch(f"SELECT * FROM {TABLE} ORDER BY system, created_at")
    return [SourceRecord(_source(r), r["created_at"], r["revoked_at"]) for r in rows]


async def revoke(conn: Queryable, key_or_id: str) -> list[Source]:
    """Revoke a key given in full or by its ``key_id``; running gateways are notified."""
    rows = await conn.fetch(
        f"""
        WITH revoked AS (
            UPDATE {TABLE} SET revoked_at = now()
            WHERE (key_id = $1 OR key_hash = $2) AND revoked_at IS NULL
            RETURNING *
        )
        SELECT *, pg_notify('{CHANNEL}', key_hash) FROM revoked
        """,
        key_or_id,
        key_hash(key_or_id),
    )
    return [_source(r) for r in rows]


class SourceRegistry:
    """Write key → source, for the gateway: cached, dropped on revocation or after ``ttl``."""

    def __init__(self, pool: asyncpg.Pool[Any], ttl: float = 60.0) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[str, tuple[Source, float]] = {}
        self._revocations = 0  # a key read while one is revoked is not cached
        self._listener: PoolConnectionProxy[Any] | None = None

    async def start(self) -> None:
        listener = await self._pool.acquire()
        await listener.add_listener(CHANNEL, self._revoked)
        self._listener = listener

    async def stop(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                await listener.remove_listener(CHANNEL, self._revoked)
                await self._pool.release(listener)
            except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError) as exc:
                log.warning("write_key_listener_lost", error=repr(exc))  # the pool closes it

    def _revoked(self, _conn: object, _pid: int, _channel: str, hashed: object) -> None:
        self._revocations += 1
        self._cache.pop(str(hashed), None)
        log.info("write_key_revoked", key_hash=str(hashed)[:12])

    async def source_for(self, key: str) -> Source | None:
        """The live source of ``key``, or None if it is unknown or revoked."""
        hashed = key_hash(key)
        cached = self._cache.get(hashed)
        now = time.monotonic()
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        revocations = self._revocations
        row = await self._pool.fetchrow(
            f"SELECT * FROM {TABLE} WHERE key_hash = $1 AND revoked_at IS NULL", hashed
        )
        if row is None:
            self._cache.pop(hashed, None)
            return None
        source = _source(row)
        if revocations == self._revocations:
            self._cache[hashed] = (source, now)
        return source

    def forget(self, hashes: Sequence[str] = ()) -> None:
        """Drop cached keys (all when none are named)."""
        if not hashes:
            self._cache.clear()
        for hashed in hashes:
            self._cache.pop(hashed, None)
