"""The connection type adapters accept: a plain connection or one borrowed from a pool."""

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Queryable: TypeAlias = "Connection | asyncpg.Pool[Any]"
