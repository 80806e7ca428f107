"""The connection type adapters accept: a plain connection or one borrowed from a pool."""

import time
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Queryable: TypeAlias = "Connection | asyncpg.Pool[Any]"


SCHEMA_LOCK = 7_420_170
"""Advisory lock held while creating tables: concurrent ``CREATE TABLE IF NOT EXISTS``
of the same table race in PostgreSQL's catalog (unique violation on pg_type)."""


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


def retry_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling, at most 10 s."""
    return min(0.2 * 2.0**failures, 10.0)


OUTAGE_TOLERANCE_S = 300.0
"""How long a stage waits out an unreachable service before it gives up and surfaces the
error: longer than a database restart or failover, short enough to be noticed."""


class Outage:
    """A run of failures of a service that should come back (PostgreSQL restarting, the
    broker paused): the delay before each retry, until the run has lasted too long."""

    def __init__(self, tolerance_s: float = OUTAGE_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s
        self.failures = 0
        self._since: float | None = None

    def failed(self) -> float | None:
        """One more failure: seconds to wait before retrying, or None to give up."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self.failures += 1
        if now - self._since > self.tolerance_s:
            return None
        return retry_delay(self.failures)

    def lasted(self) -> float:
        return 0.0 if self._since is None else time.monotonic() - self._since

    def ended(self) -> None:
        """A try succeeded: the next failure starts a new run."""
        self.failures, self._since = 0, None
