"""``GET /audit/access``: who read which service or restricted fields of whom, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.audit_log import AccessFilter
from api.auth import Manager
from api.deps import Reads
from api.schemas import AccessLog

router = APIRouter(tags=["audit"])


@router.get("/audit/access", response_model=AccessLog)
async def access_log(
    reads: Reads,
    caller: Manager,
    customer_id: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLog:
    """Newest first. Managers only."""
    return await reads.access_log(AccessFilter(customer_id, who, since, before_id), limit)
