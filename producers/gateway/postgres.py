"""The gateway's tables: write keys (``sources``) and accepted message ids (``dedup``)."""

from __future__ import annotations

from producers.gateway import dedup, sources
from producers.gateway.db import Connection


async def create_tables(conn: Connection) -> None:
    """Create what the gateway needs; called by ``touchlog init`` and ``touchlog up``."""
    await conn.execute(sources.SCHEMA)
    await conn.execute(dedup.SCHEMA)
