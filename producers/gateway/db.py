"""The connection types the gateway's PostgreSQL adapters accept."""

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Queryable: TypeAlias = "Connection | asyncpg.Pool[Any]"
