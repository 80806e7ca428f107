"""``GET /customers/{key}/timeline``: a subject's touchpoints, newest first.

For agents and managers. Payloads are cut to the tiers the caller may read: an agent
gets each touchpoint's type, time and channel and the essential payload fields; the
service tier (the summaries and service fields) with ``reveal=service`` and a reason;
restricted fields are for managers. Every page serving more than essential data is
recorded in the access audit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Representative
from api.deps import Reads
from api.reads import Disclosure, TimelineQuery
from api.schemas import TimelineResponse
from events import Channel, Tier

router = APIRouter(tags=["timeline"])


@router.get("/customers/{key}/timeline", response_model=TimelineResponse)
async def timeline(
    key: str,
    reads: Reads,
    caller: Representative,
    before: Annotated[str | None, Query(description="Cursor from a previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    channel: Annotated[list[Channel] | None, Query(description="Only these channels.")] = None,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    reveal: Annotated[Tier | None, Query(description="service: an agent, with a reason")] = None,
    reason: Annotated[str | None, Query(min_length=3, max_length=500)] = None,
) -> TimelineResponse:
    page = TimelineQuery(before, limit, channel or (), type or ())
    return await reads.timeline(caller, key, page, Disclosure(reveal, reason))
