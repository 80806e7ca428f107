"""Who owns a customer's relationship (seed 004): the newest ``relationship.assigned`` of
the customer's family in the timeline view. Read from the view every touchpoint already
lands in, so a rebuild from the log knows the owners again; no stage of its own."""

from __future__ import annotations

from collections.abc import Sequence

from projections.db import Queryable
from projections.timeline.postgres import TABLE

_OWNER = f"""
SELECT payload->>'owner' AS owner FROM {TABLE}
WHERE subject_key = ANY($1::text[]) AND type = 'relationship.assigned'
ORDER BY occurred_at DESC, source_system DESC, message_id DESC
LIMIT 1
"""


async def owner_of(conn: Queryable, customer_ids: Sequence[str]) -> str | None:
    """The rep who owns the relationship of a family (its survivor and the customers merged
    into it), as the newest assignment names them; None if nobody does."""
    row = await conn.fetchrow(_OWNER, list(customer_ids))
    return row["owner"] if row is not None else None
