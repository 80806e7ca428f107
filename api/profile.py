"""The customer information file over HTTP: a profile as of any moment, a field's history.

What a caller sees depends on its role (``api.profile_access``); every service or
restricted value served is recorded in the access audit before the response leaves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.auth import CurrentCaller
from api.deps import Reads
from api.parameters import MOMENTS, CustomerKey, Moment, Name, Reason
from api.reads import Disclosure
from api.schemas import HistoryResponse, ProfileResponse
from events import Tier

router = APIRouter(tags=["profile"])

AsOf = Annotated[
    Moment | None,
    Query(description=f"The profile as it was then ({MOMENTS}); default: now."),
]
Reveal = Annotated[
    Tier | None,
    Query(description="An agent may reveal the service tier of one customer, with a reason."),
]


@router.get(
    "/customers/{customer_id}/profile",
    response_model_exclude_unset=True,
    responses=responses.CUSTOMER,
)
async def profile(
    customer_id: CustomerKey,
    reads: Reads,
    caller: CurrentCaller,
    as_of: AsOf = None,
    reveal: Reveal = None,
    reason: Reason = None,
) -> ProfileResponse:
    """The profile, as of now or ``as_of``, with the tiers the caller's role may see (the
    sections it may not see are left out)."""
    return await reads.profile(caller, customer_id, Disclosure(reveal, reason, as_of))


@router.get("/customers/{customer_id}/profile/history", responses=responses.CUSTOMER)
async def profile_history(
    customer_id: CustomerKey,
    reads: Reads,
    caller: CurrentCaller,
    field: Annotated[Name, Query(description="A profile field, e.g. addresses (or address).")],
    as_of: AsOf = None,
    reveal: Reveal = None,
    reason: Reason = None,
) -> HistoryResponse:
    """Every value a field took, oldest first: value, valid from, valid to, source event."""
    return await reads.history(caller, customer_id, field, Disclosure(reveal, reason, as_of))
