"""``GET /audit/access``: who read which service or restricted fields of whom, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Manager
from api.deps import Pool
from projections.profile import audit_log

router = APIRouter(tags=["audit"])


class AccessRecord(BaseModel):
    id: int
    at: datetime
    who: str
    role: str
    customer_id: str
    endpoint: str
    fields: list[str]
    reason: str | None
    as_of: datetime | None


class AccessLog(BaseModel):
    records: list[AccessRecord]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; null on the last page."""


@router.get("/audit/access", response_model=AccessLog)
async def access_log(
    pool: Pool,
    caller: Manager,
    customer_id: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLog:
    """Newest first. Managers only."""
    rows = await audit_log.accesses(
        pool, customer_id=customer_id, who=who, since=since, before_id=before_id, limit=limit + 1
    )
    page = rows[:limit]
    more = len(rows) > limit
    return AccessLog(
        records=[AccessRecord.model_validate(r) for r in page],
        next_before_id=page[-1]["id"] if more and page else None,
    )
