"""The connection type adapters accept: a plain connection or one borrowed from a pool."""

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Queryable: TypeAlias = "Connection | asyncpg.Pool[Any]"


SCHEMA_LOCK = 7_420_170
"""Advisory lock held while creating tables: concurrent ``CREATE TABLE IF NOT EXISTS``
of the same table race in PostgreSQL's catalog (unique violation on pg_type)."""
