"""Which customer ids the read side knows: one answer for every route that names a
customer, so that an unknown one is a 404 everywhere, never an empty 200 here and a 404
there.

A customer is known if the identity graph has it, or, for data written before the graph
knew it (or loaded without it), if any view holds something about it: profile facts,
timeline entries or triggers. Each is one indexed look-up, made only when the one before
found nothing.
"""

from __future__ import annotations

from projections.db import Queryable
from projections.identity.family import family_of
from projections.profile.postgres import has_facts
from projections.timeline.postgres import has_entries
from projections.triggers.queries import has_triggers


async def seen_in_views(conn: Queryable, customer_id: str) -> bool:
    """Does a view (profile, timeline, triggers) hold anything about this customer id?"""
    return (
        await has_facts(conn, customer_id)
        or await has_entries(conn, customer_id)
        or await has_triggers(conn, customer_id)
    )


async def is_known(conn: Queryable, customer_id: str) -> bool:
    """Is this customer id in the identity graph, or in a view?"""
    return await family_of(conn, customer_id) is not None or await seen_in_views(conn, customer_id)
