"""``GET /audit/access``: who read which service or restricted fields of whom, and why.

``customer_id`` filters the records; it does not name a customer that must still be
known (the reads of an erased customer stay listed): no match is an empty page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.audit_log import AccessFilter
from api.auth import Manager
from api.deps import Reads
from api.parameters import MOMENTS, Identifier, Moment, RowId
from api.schemas import AccessLog

router = APIRouter(tags=["audit"])


@router.get("/audit/access", response_model=AccessLog, responses=responses.SIGNED_IN)
async def access_log(
    reads: Reads,
    caller: Manager,
    customer_id: Identifier | None = None,
    who: Identifier | None = None,
    since: Annotated[Moment | None, Query(description=MOMENTS)] = None,
    before_id: RowId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLog:
    """Newest first. Managers only."""
    return await reads.access_log(AccessFilter(customer_id, who, since, before_id), limit)
