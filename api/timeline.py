"""``GET /customers/{key}/timeline``: a subject's touchpoints, newest first.

For agents and managers. Payloads are cut to the tiers the caller may read: an agent
gets each touchpoint's type, time and channel and the essential payload fields; the
service tier (the summaries and service fields) with ``reveal=service`` and a reason;
restricted fields are for managers. Every page serving more than essential data is
recorded in the access audit.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.auth import Representative, refused
from api.customers import survivor_keys
from api.deps import Pool, Rules
from api.redaction import redact
from events import EVENT_TYPES, Channel, Tier
from projections.identity import postgres as identity
from projections.profile import access as policy
from projections.profile import audit_log
from projections.timeline.postgres import Cursor, InvalidCursor, fetch_timeline

router = APIRouter(tags=["timeline"])


class TimelineItem(BaseModel):
    message_id: str
    type: str
    occurred_at: datetime
    channel: str
    source_system: str
    business_unit: str
    summary: str | None
    """Null unless the service tier is readable: summaries are built from service fields."""
    campaign_code: str | None
    payload: dict[str, Any]


class TimelineResponse(BaseModel):
    subject_key: str
    items: list[TimelineItem]
    next_cursor: str | None
    """Pass as ``before`` to get the next (older) page; null on the last page."""
    withheld: list[str]
    """Tiers not served to this caller."""
    audit_id: int | None = None


@router.get("/customers/{key}/timeline", response_model=TimelineResponse)
async def timeline(
    key: str,
    pool: Pool,
    rules: Rules,
    caller: Representative,
    before: Annotated[str | None, Query(description="Cursor from a previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    channel: Annotated[list[Channel] | None, Query(description="Only these channels.")] = None,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    reveal: Annotated[Tier | None, Query(description="service: an agent, with a reason")] = None,
    reason: Annotated[str | None, Query(min_length=3, max_length=500)] = None,
) -> TimelineResponse:
    try:
        readable = policy.readable_tiers(caller.role, reveal)
    except policy.Refused as exc:
        raise refused(exc) from None
    if reveal is not None and caller.role is policy.Role.AGENT and not reason:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["query", "reason"],
                    "msg": "revealing a tier needs a reason (it is audited)",
                    "type": "value_error",
                }
            ],
        )
    unknown = sorted(set(type or ()) - set(EVENT_TYPES))
    if unknown:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["query", "type"],
                    "msg": f"unknown event type(s): {', '.join(unknown)}",
                    "type": "value_error",
                }
            ],
        )
    try:
        cursor = Cursor.decode(before) if before else None
    except InvalidCursor as exc:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", "before"], "msg": str(exc), "type": "value_error"}],
        ) from None
    keys = await survivor_keys(pool, key, rules)
    page = await fetch_timeline(
        pool,
        keys,
        limit=limit,
        before=cursor,
        channels=[c.value for c in channel or ()],
        types=type or (),
    )
    items, served = [], set()
    for row in page.entries:
        cut = redact(row["type"], json.loads(row["payload"]), readable)
        served |= {f"{row['type']}.{path}" for path in cut.served}
        summary = row["summary"] if Tier.SERVICE in readable else None
        if summary is not None:
            served.add(f"{row['type']}.summary")
        campaign = row["campaign_code"] if Tier.SERVICE in readable else None
        items.append(
            TimelineItem(
                **{**row, "summary": summary, "campaign_code": campaign, "payload": cut.payload}
            )
        )
    audit_id = None
    if served:
        customer = await identity.survivor_of(pool, keys[0]) or keys[0]
        access = audit_log.Access(
            caller.name, caller.role.value, customer, "timeline", sorted(served), reason
        )
        audit_id = await audit_log.record(pool, access)
    return TimelineResponse(
        subject_key=key,
        items=items,
        next_cursor=page.next_cursor,
        withheld=sorted(t.value for t in Tier if t not in readable),
        audit_id=audit_id,
    )
