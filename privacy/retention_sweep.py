"""The retention sweep: personal data past its event type's period is made unreadable.

Two steps, both idempotent (``touchlog retention run``; ``touchlog up`` runs it hourly):

1. every data key whose period is over is shredded (``KeyStore.shred_expired``): the
   personal fields of every event sealed with it read ``[erased]`` in the log, in replays
   and in rebuilds;
2. the read models drop what they copied from those events: each table classified with
   ``at=`` (``privacy.stores``) has the rows of events older than their type's period
   anonymised (``payload=``: its personal fields read ``[erased]``, ``clear=`` columns too)
   or, for a table of facts with ``type=``, deleted.

Types kept until erasure (``None``) are never swept. Each sweep also purges once more the
customers erased in the last day (``privacy.purge.purge_again``): a process that had
their key cached (``key_cache_seconds``) may have written a row for them after the erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from privacy.keys import KeyStore
from privacy.purge import anonymised, erased_sql, purge_again
from privacy.retention import Retention
from privacy.stores import Store, UnclassifiedTables, stores
from projections.db import Connection

log = structlog.get_logger()

PURGE_AGAIN_FOR = timedelta(days=1)
"""How long after an erasure each sweep purges the customer's rows again (what a process
wrote with a key it had cached before the erasure)."""
ERASED_AGAIN = "customers erased in the last day (purged again)"


@dataclass(frozen=True, slots=True)
class Swept:
    keys_shredded: int
    rows: dict[str, int]
    """Table → rows anonymised or deleted."""

    def as_json(self) -> dict[str, Any]:
        return {"keys_shredded": self.keys_shredded, "rows": self.rows}


def _cutoffs(retention: Retention, now: datetime) -> tuple[list[str], list[datetime]]:
    kept = {n: d for n, d in retention.days.items() if d is not None}
    return list(kept), [now - timedelta(days=d) for d in kept.values()]


async def sweep_table(
    conn: Connection, store: Store, retention: Retention, now: datetime
) -> int | None:
    """Sweep one table; the rows changed, or None if retention does not apply to it."""
    c = store.classification
    if not c.personal or c.at is None or (c.payload is None and c.type is None):
        return None
    type_column = c.payload[1] if c.payload else c.type
    names, cutoffs = _cutoffs(retention, now)
    old = (
        f'"{c.at}" < (SELECT x.cutoff FROM unnest($1::text[], $2::timestamptz[]) '
        f'AS x(name, cutoff) WHERE x.name = "{type_column}")'
    )
    if c.payload is None:
        result = await conn.execute(f"DELETE FROM {store.qualified} WHERE {old}", names, cutoffs)
        return int(result.split()[-1])
    sets, args = anonymised(store, 3)
    fresh = [f'"{col}" IS DISTINCT FROM {erased_sql(store.column_types[col])}' for col in c.clear]
    where = " AND ".join([old, *(["(" + " OR ".join(fresh) + ")"] if fresh else [])])
    result = await conn.execute(
        f"UPDATE {store.qualified} SET {', '.join(sets)} WHERE {where}", names, cutoffs, *args
    )
    return int(result.split()[-1])


async def sweep(db: Any, keys: KeyStore, retention: Retention, now: datetime) -> Swept:
    """Shred expired keys, then sweep every table retention applies to (``db``: a pool).
    Raises ``privacy.stores.UnclassifiedTables`` after shredding, before any table."""
    async with db.acquire() as conn:
        shredded = await keys.shred_expired(now)  # whatever the tables: the log comes first
        try:
            found = await stores(conn)
        except UnclassifiedTables as exc:
            refused = f"{shredded} expired keys shredded; the read models were not swept"
            raise UnclassifiedTables(exc.problems, refused) from None
        rows: dict[str, int] = {}
        async with conn.transaction():
            for store in found:
                changed = await sweep_table(conn, store, retention, now)
                if changed is not None:
                    rows[store.name] = changed
        async with conn.transaction():
            rows[ERASED_AGAIN] = await purge_again(conn, now - PURGE_AGAIN_FOR)
    log.info("retention_swept", keys_shredded=shredded, rows=sum(rows.values()))
    return Swept(shredded, rows)
