"""The co-purchase rules the trigger worker offers ``recommended`` from, kept in memory.

The worker never asks PostgreSQL anything per event: a snapshot of each category's
strongest rules is loaded from the live recommendations view before the app starts, then
reloaded every ``refresh`` seconds by a faust timer. A reload that fails keeps the last
snapshot (logged); the next one tries again.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import structlog

from projections.recommendations.postgres import strongest_rules
from projections.recommendations.snapshot import CoPurchases

log = structlog.get_logger()

PER_CATEGORY = 50
"""Rules kept per category bought: the best one not yet bought is among them unless a
customer bought all 50 partners of every category they bought."""


@dataclass(frozen=True)
class CoPurchaseFeed:
    database_url: str
    min_customers: int = 5
    per_category: int = PER_CATEGORY

    async def load(self) -> CoPurchases:
        conn = await asyncpg.connect(self.database_url)
        try:
            snapshot = await strongest_rules(
                conn, per_category=self.per_category, min_customers=self.min_customers
            )
        finally:
            await conn.close()
        log.info("co_purchases_loaded", rules=len(snapshot), categories=len(snapshot.rules))
        return snapshot

    async def reload(self, current: CoPurchases) -> CoPurchases:
        """A fresh snapshot, or ``current`` if the database cannot give one now."""
        try:
            return await self.load()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "co_purchases_reload_failed",
                error=str(exc),
                kept_from=current.loaded_at.isoformat() if current.loaded_at else None,
            )
            return current
