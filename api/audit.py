"""``GET /audit/access``: who read which customers, when, which tier and why; ``GET
/audit/data``: the data inventory. Managers only.

``customer_id`` filters the records; it does not name a customer that must still be
known (the reads of an erased customer stay listed): no match is an empty page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.audit_log import AccessFilter
from api.auth import Manager
from api.data_inventory import DataInventory, inventory
from api.deps import Pool, Reads
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


@router.get("/audit/data", response_model=DataInventory, responses=responses.SIGNED_IN)
async def data_inventory(pool: Pool, caller: Manager) -> DataInventory:
    """What customer data each source system and business unit sent, with its tiers,
    counts, first and last seen and consent coverage, and who read service or restricted
    data and how often. Managers only."""
    return await inventory(pool)
