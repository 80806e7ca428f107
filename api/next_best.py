"""The next best offer a rep sees on a customer's card and in the customer read: the
categories buyers of the family's categories also bought and the family has not
(``projections.recommendations``), best first, with support and confidence.

For reads whose route already allows only agents and managers, as
``GET /customers/{customer_id}/next-best-offers`` does; never what the customer bought.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.audience_lists import MIN_CUSTOMERS
from api.audience_schemas import Recommendation
from api.auth import Caller
from api.roles import Role
from projections.db import Queryable
from projections.identity.family import family_of
from projections.recommendations.postgres import categories_of, recommended

MAY_SEE = frozenset({Role.AGENT, Role.MANAGER})
SHOWN = 3
"""Categories shown on a card and in the customer read."""


async def of_family(
    conn: Queryable, ids: Sequence[str], limit: int = SHOWN
) -> list[Recommendation]:
    """For a merge family (the survivor and every id merged into it)."""
    bought = await categories_of(conn, ids)
    found = await recommended(conn, bought, min_customers=MIN_CUSTOMERS, limit=limit)
    return [Recommendation.model_validate(r) for r in found]


async def for_rep(
    conn: Queryable, caller: Caller, customer_id: str, limit: int = SHOWN
) -> list[Recommendation]:
    """For the family ``customer_id`` belongs to (itself alone if the graph has no family);
    nothing for a role other than agents and managers."""
    if caller.role not in MAY_SEE:
        return []
    family = await family_of(conn, customer_id)
    return await of_family(conn, family.ids if family is not None else [customer_id], limit)
