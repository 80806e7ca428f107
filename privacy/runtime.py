"""The privacy parts a process runs with, built from ``Settings`` (for the composition root).

``keys_for(settings, pool)`` gives the process's ``KeyRing`` (its cache ``key_cache_seconds``),
its ``Opener`` and — unless ``seal_personal_data`` is off — its ``Sealer`` (retention from
``retention_days``), one set per pool so that every view of the process shares one cache.
``producer_sealer(settings, database_url)`` is the sealer of a producer that has no pool of
its own (the SDK in the CLI, the importers, the demo): it opens a small pool on first use
and closes it with the producer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from events.fast_decode import SHARED, SharedDecodes
from events.resolved import RESOLVED, Resolved
from privacy import keys, subjects
from privacy.keys import RINGS, KeyRing, MasterKey, PostgresKeyStore, master_key_from
from privacy.retention import Retention
from privacy.sealing import Opener, Sealer, lenient_resolved
from projections import db

_KEPT = 8

SCHEMAS: tuple[str, ...] = (keys.SCHEMA, subjects.SCHEMA)
"""The privacy tables, in the default schema: data keys, secrets, subjects, erasures."""


async def create_tables(conn: db.Connection) -> None:
    await db.create_tables(conn, *SCHEMAS)


@dataclass(frozen=True)
class SealingConfig:
    """What a process needs to seal and open: picklable-free plain values from settings."""

    master: MasterKey
    retention: Retention
    key_cache_seconds: float
    seal: bool

    @classmethod
    def of(cls, settings: Any) -> SealingConfig:
        return cls(
            master_key_from(settings),
            Retention(settings.retention_days),
            settings.key_cache_seconds,
            settings.seal_personal_data,
        )


@dataclass(frozen=True)
class Keys:
    """A process's keys on one database: the ring, its opener and (if sealing) its sealer."""

    ring: KeyRing
    opener: Opener
    sealer: Sealer | None

    @classmethod
    def on(cls, config: SealingConfig, database: db.Queryable | OwnPool) -> Keys:
        ring = KeyRing(
            PostgresKeyStore(database, config.master),  # type: ignore[arg-type]
            cache_seconds=config.key_cache_seconds,
        )
        return cls(ring, Opener(ring), Sealer(ring, config.retention) if config.seal else None)


_DECODERS: dict[int, tuple[Opener, SharedDecodes[Resolved]]] = {}


def resolved_decoder(opener: Opener) -> SharedDecodes[Resolved]:
    """The process's decoder of ``touchlog.resolved`` for its views, opening with
    ``opener``: one per opener, so every view of the process shares one decode."""
    known = _DECODERS.get(id(opener))
    if known is not None and known[0] is opener:
        return known[1]
    decoder = SharedDecodes(
        RESOLVED, opener=opener, lenient=lenient_resolved, max_age=opener.ring.cache_seconds
    )
    if len(_DECODERS) >= _KEPT:
        _DECODERS.clear()
    _DECODERS[id(opener)] = (opener, decoder)
    return decoder


_BY_POOL: list[tuple[Any, Keys]] = []


def forget_all() -> None:
    """After an erasure in this process: every key ring and every shared decode of the
    process drop what they hold, so that no view of ``touchlog up`` opens the erased
    customer's records from a cache (other processes: within ``key_cache_seconds``)."""
    for ring in list(RINGS):
        ring.forget()
    for decoder in list(SHARED):
        decoder.forget()


def keys_for(settings: Any, pool: asyncpg.Pool) -> Keys:
    """The process's ``Keys`` on ``pool`` (the same object for every caller with this pool:
    one key cache, and one shared decode of ``touchlog.resolved``, per process). The
    tables must exist (``touchlog.bootstrap.create_tables``); a sealer needs ``start()``."""
    for known, found in _BY_POOL:
        if known is pool:
            return found
    made = Keys.on(SealingConfig.of(settings), pool)
    _BY_POOL.append((pool, made))
    del _BY_POOL[:-_KEPT]
    return made


class KeyStoreUnavailable(RuntimeError):
    """A producer cannot reach the database that holds the data keys."""


class OwnPool:
    """A small pool for a producer's keys, opened (and the tables created) on first use."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None:
            try:
                pool = await db.create_pool(self.dsn, min_size=1, max_size=2)
            except db.DATABASE_UNAVAILABLE as exc:
                raise KeyStoreUnavailable(
                    "sealing personal data needs the data keys in PostgreSQL "
                    f"(DATABASE_URL): {exc}; TOUCHLOG_SEAL_PERSONAL_DATA=false publishes "
                    "in clear (docs/PRIVACY.md)"
                ) from exc
            async with pool.acquire() as conn:
                await create_tables(conn)
            self._pool = pool
        return self._pool

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return list(await (await self._open()).fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await (await self._open()).fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        result: str = await (await self._open()).execute(query, *args)
        return result

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class ProducerSealer(Sealer):
    """A ``Sealer`` on its own small pool, closed with the producer (``close``)."""

    def __init__(self, config: SealingConfig, dsn: str) -> None:
        self._own = OwnPool(dsn)
        keys_ = Keys.on(config, self._own)
        super().__init__(keys_.ring, config.retention)

    async def close(self) -> None:
        await self._own.close()


def producer_sealer(settings: Any, database_url: str) -> ProducerSealer | None:
    """The sealer of a producer without a pool, or None when ``seal_personal_data`` is off."""
    config = SealingConfig.of(settings)
    return ProducerSealer(config, database_url) if config.seal else None
