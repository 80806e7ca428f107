"""The gateway's tables: write keys (``sources``) and accepted message ids (``dedup``)."""

from __future__ import annotations

from producers.gateway import dedup, sources

SCHEMA = sources.SCHEMA + dedup.SCHEMA
"""Created by ``touchlog init`` and ``touchlog up`` (``projections.db.create_tables``)."""
