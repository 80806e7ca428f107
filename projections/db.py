"""PostgreSQL for every adapter: the connection types, the one pool factory, the one way
to create tables, and the errors that mean the database is unreachable for now."""

from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Queryable: TypeAlias = "Connection | asyncpg.Pool[Any]"


SCHEMA_LOCK = 7_420_170
"""Advisory lock held while creating tables: concurrent ``CREATE TABLE IF NOT EXISTS``
of the same table race in PostgreSQL's catalog (unique violation on pg_type)."""


async def create_tables(conn: Connection, *schemas: str) -> None:
    """Run each adapter's idempotent ``SCHEMA`` (``CREATE … IF NOT EXISTS``) in one
    transaction that holds ``SCHEMA_LOCK``: the one way touchlog creates tables."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        for schema in schemas:
            await conn.execute(schema)


async def reachable(conn: Queryable) -> None:
    """Raise unless the database answers (a health check)."""
    await conn.fetchval("SELECT 1")


async def copy_insert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    on_conflict: str = "ON CONFLICT DO NOTHING",
) -> None:
    """Insert many rows at ``COPY`` speed, idempotently.

    ``COPY`` has no ``ON CONFLICT``: rows go to a staging table first, then one
    ``INSERT … SELECT … ON CONFLICT``. The staging table is dropped at once, not at
    commit, as one transaction may insert several times.
    """
    if not rows:
        return
    staging = f"{table}_staging"
    await conn.execute(f"CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS)")
    await conn.copy_records_to_table(staging, records=rows, columns=list(columns))
    cols = ", ".join(columns)
    await conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {on_conflict}")
    await conn.execute(f"DROP TABLE {staging}")


SERVER_SETTINGS = {"jit": "off"}
"""Session settings of every pool. JIT compilation pays off for long analytical queries;
on touchlog's short indexed ones it added up to half a second when row estimates ran high."""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, **options: Any
) -> "asyncpg.Pool[Any]":
    """The one pool factory: every pool gets ``SERVER_SETTINGS``."""
    pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=SERVER_SETTINGS, **options
    )
    return pool


DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # The server shut down or is restarting, or an operator terminated our backend; a
    # connection lost mid-transaction can also fail its release with a protocol-state
    # error (the pool then replaces the connection).
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,
)
"""PostgreSQL cannot be reached for now: a loop retries with backoff, then surfaces it."""


async def tables_created_by(conn: Connection, *schemas: str) -> list[tuple[str, str]]:
    """The tables these ``SCHEMA`` s create that exist in the database, schema-qualified.

    Found by running them into the session's temporary schema inside a transaction that
    is rolled back: the list cannot drift from what ``create_tables`` creates."""
    probe = conn.transaction()
    await probe.start()
    try:
        await conn.execute("SET LOCAL search_path TO pg_temp")
        await create_tables(conn, *schemas)
        names = [
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class "
                "WHERE relnamespace = pg_my_temp_schema() AND relkind IN ('r', 'p')"
            )
        ]
    finally:
        await probe.rollback()
    rows = await conn.fetch(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE tablename = ANY($1) AND schemaname = ANY(current_schemas(false)) "
        "ORDER BY tablename",
        names,
    )
    return [(r["schemaname"], r["tablename"]) for r in rows]


async def drop_tables(conn: Connection, tables: Sequence[tuple[str, str]]) -> None:
    """Drop these (schema, table) pairs, as ``tables_created_by`` lists them."""
    names = ", ".join(f'"{schema}"."{table}"' for schema, table in tables)  # ours, not input
    await conn.execute(f"DROP TABLE IF EXISTS {names} CASCADE")
