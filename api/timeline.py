"""``GET /customers/{key}/timeline``: a subject's touchpoints, newest first.

For agents and managers. Payloads are cut to the tiers the caller may read: an agent
gets each touchpoint's type, time and channel and the essential payload fields; the
service tier (the summaries and service fields) with ``reveal=service`` and a reason;
restricted fields are for managers. Every page serving more than essential data is
recorded in the access audit. A key that leads to nobody is a 404, as on every route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.auth import Representative
from api.deps import Reads
from api.parameters import Names, PageCursor, Reason, SubjectKey
from api.reads import Disclosure, TimelineQuery
from api.schemas import TimelineResponse
from events import Channel, Tier

router = APIRouter(tags=["timeline"])


@router.get(
    "/customers/{key}/timeline", response_model=TimelineResponse, responses=responses.SUBJECT
)
async def timeline(
    key: SubjectKey,
    reads: Reads,
    caller: Representative,
    before: PageCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    channel: Annotated[
        list[Channel] | None, Query(max_length=50, description="Only these channels.")
    ] = None,
    type: Annotated[Names, Query(description="Only these event types.")] = None,
    business_unit: Annotated[Names, Query(description="Only these business units.")] = None,
    reveal: Annotated[Tier | None, Query(description="service: an agent, with a reason")] = None,
    reason: Reason = None,
) -> TimelineResponse:
    page = TimelineQuery(before, limit, channel or (), type or (), business_unit or ())
    return await reads.timeline(caller, key, page, Disclosure(reveal, reason))
