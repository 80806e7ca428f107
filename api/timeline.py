"""``GET /customers/{key}/timeline``: a subject's touchpoints, newest first."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.customers import survivor_keys
from api.deps import Pool, Rules
from events import EVENT_TYPES, Channel
from projections.timeline.postgres import Cursor, InvalidCursor, fetch_timeline

router = APIRouter(tags=["timeline"])


class TimelineItem(BaseModel):
    message_id: str
    type: str
    occurred_at: datetime
    channel: str
    source_system: str
    business_unit: str
    summary: str
    campaign_code: str | None
    payload: dict[str, Any]


class TimelineResponse(BaseModel):
    subject_key: str
    items: list[TimelineItem]
    next_cursor: str | None
    """Pass as ``before`` to get the next (older) page; null on the last page."""


@router.get("/customers/{key}/timeline", response_model=TimelineResponse)
async def timeline(
    key: str,
    pool: Pool,
    rules: Rules,
    before: Annotated[str | None, Query(description="Cursor from a previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    channel: Annotated[list[Channel] | None, Query(description="Only these channels.")] = None,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
) -> TimelineResponse:
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
    return TimelineResponse(
        subject_key=key,
        items=[
            TimelineItem(**{**row, "payload": json.loads(row["payload"])}) for row in page.entries
        ],
        next_cursor=page.next_cursor,
    )
