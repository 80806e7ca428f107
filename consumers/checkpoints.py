"""The runner's own tables: next offset per (consumer, topic, partition), and dead letters.

Both are written in the same transaction as the view they belong to. ``PostgresCheckpoints``
is the checkpoint store port (``consumers/ports.py``) over them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from consumers.deadletter import DeadLetter
from consumers.ports import Errors
from projections.db import DATABASE_UNAVAILABLE, Connection, Queryable, create_tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS consumer_offsets (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    int         NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    int         NOT NULL,
    "offset"     bigint      NOT NULL,
    key          bytea,
    value        bytea,
    reason       text        NOT NULL,
    failed_at    timestamptz NOT NULL,
    PRIMARY KEY (consumer, topic, partition, "offset")
);
"""


async def stored_offsets(
    conn: Queryable, consumer: str, topic: str, *, for_update: bool = False
) -> dict[int, int]:
    """Next offset to read per partition, as committed with the view."""
    lock = " FOR UPDATE" if for_update else ""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = $1 AND topic = $2"
        + lock,
        consumer,
        topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def lock_offsets(
    conn: Connection, consumer: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """Lock this consumer's offset rows for ``partitions`` (creating missing ones at 0).

    A second worker applying the same partition after a rebalance blocks here,
    then sees the offsets the first one committed and skips what was applied.
    """
    parts = sorted(set(partitions))
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset) "
        "SELECT $1, $2, p, 0 FROM unnest($3::int[]) AS p ON CONFLICT DO NOTHING",
        consumer,
        topic,
        parts,
    )
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets "
        "WHERE consumer = $1 AND topic = $2 AND partition = ANY($3::int[]) "
        "ORDER BY partition FOR UPDATE",
        consumer,
        topic,
        parts,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def advance(
    conn: Connection, consumer: str, topic: str, next_offsets: Mapping[int, int]
) -> None:
    await conn.executemany(
        "UPDATE consumer_offsets SET next_offset = $4, updated_at = now() "
        "WHERE consumer = $1 AND topic = $2 AND partition = $3",
        [(consumer, topic, p, o) for p, o in next_offsets.items()],
    )


async def record_dead_letters(conn: Connection, letters: Iterable[DeadLetter]) -> None:
    await conn.executemany(
        'INSERT INTO dead_letters (consumer, topic, partition, "offset", key, value, reason, '
        "failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        [
            (d.consumer, d.topic, d.partition, d.offset, d.key, d.value, d.reason, d.failed_at)
            for d in letters
        ],
    )


async def dead_letters(conn: Queryable, consumer: str) -> list[DeadLetter]:
    rows = await conn.fetch(
        'SELECT topic, partition, "offset", key, value, reason, failed_at FROM dead_letters '
        'WHERE consumer = $1 ORDER BY topic, partition, "offset"',
        consumer,
    )
    return [DeadLetter(consumer, *r) for r in rows]


class PostgresCheckpoints:
    """The checkpoint store in PostgreSQL: one pooled connection per transaction, which
    the view writes through too."""

    outages: Errors = (
        *DATABASE_UNAVAILABLE,
        asyncpg.DeadlockDetectedError,
        asyncpg.SerializationError,
    )
    rejections: Errors = (
        asyncpg.DataError,
        asyncpg.IntegrityConstraintViolationError,
        asyncpg.ProgramLimitExceededError,
    )

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def prepare(self, schema: Sequence[str]) -> None:
        async with self.pool.acquire() as conn:
            await create_tables(conn, SCHEMA, *schema)

    async def stored_offsets(self, consumer: str, topic: str) -> dict[int, int]:
        return await stored_offsets(self.pool, consumer, topic)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    def savepoint(self, tx: Connection) -> AbstractAsyncContextManager[Any]:
        return tx.transaction()

    async def lock_offsets(
        self, tx: Connection, consumer: str, topic: str, partitions: Iterable[int]
    ) -> dict[int, int]:
        return await lock_offsets(tx, consumer, topic, partitions)

    async def advance(
        self, tx: Connection, consumer: str, topic: str, next_offsets: Mapping[int, int]
    ) -> None:
        await advance(tx, consumer, topic, next_offsets)

    async def record_dead_letters(self, tx: Connection, letters: Sequence[DeadLetter]) -> None:
        await record_dead_letters(tx, letters)

    async def dead_letters(self, consumer: str) -> list[DeadLetter]:
        return await dead_letters(self.pool, consumer)
