"""Data-subject requests: a customer's erasure and the export of their data (managers only).

The erasure is ``privacy.erasure.Erasure``, given by the composition root as
``app.state.erasure`` (it holds the master key and a publisher); without one the route
answers 503. The export reads the read models (``privacy.export``), and the identity
events from the log through ``app.state.export_history(ids, pool)`` when the composition
root gives one.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from api import responses
from api.auth import Manager
from api.deps import Pool
from api.parameters import CustomerKey, Reason
from privacy.erasure import Erasure, UnknownCustomer
from privacy.export import History, export
from privacy.stores import UnclassifiedTables

router = APIRouter(tags=["privacy"])

Reader = Callable[..., Awaitable[list[dict[str, Any]]]]
"""``app.state.export_history(ids, pool=pool)``: the identity events read from the log."""

NOT_CONFIGURED: responses.Responses = {
    503: {"description": "The database is unreachable, or erasure is not configured here."}
}
UNCLASSIFIED: responses.Responses = {
    409: {"description": "A table has no classification: nothing was erased (says which)."}
}


class ErasureRequest(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="Why the customer is erased (recorded in the receipt and the audit).",
    )


class StoreErased(BaseModel):
    store: str
    kind: str = Field(description="table, topic, key store or key cache")
    action: str
    rows: int | None = None


class ErasureReceipt(BaseModel):
    receipt_id: str
    customer_id: str
    merged_customer_ids: list[str]
    erased_at: str
    erased_by: str
    role: str
    reason: str
    subjects: int
    keys_shredded: int
    stores: list[StoreErased]
    event_message_id: str | None = None
    warnings: list[str] = []


@router.post(
    "/customers/{customer_id}/erasure",
    response_model=ErasureReceipt,
    responses=responses.CUSTOMER | responses.UNREADABLE_BODY | UNCLASSIFIED | NOT_CONFIGURED,
)
async def erase(
    customer_id: CustomerKey,
    body: Annotated[ErasureRequest, Body()],
    pool: Pool,
    request: Request,
    caller: Manager,
) -> dict[str, Any]:
    """Erase the customer (and every customer merged into it): their data keys shredded,
    their personal data purged or anonymised in every table, ``customer.erased``
    published. The receipt lists each store and what was done there."""
    erasure: Erasure | None = getattr(request.app.state, "erasure", None)
    if erasure is None:
        raise HTTPException(503, "erasure is not configured in this process (no master key)")
    try:
        receipt = await erasure.erase(
            pool, customer_id, reason=body.reason, who=caller.name, role=caller.role.value
        )
    except UnknownCustomer as exc:
        raise HTTPException(404, str(exc)) from None
    except UnclassifiedTables as exc:
        raise HTTPException(409, str(exc)) from None
    return receipt.as_json()


@router.get(
    "/customers/{customer_id}/export",
    responses=responses.CUSTOMER,
)
async def export_customer(
    customer_id: CustomerKey,
    pool: Pool,
    request: Request,
    caller: Manager,
    reason: Reason = None,
) -> dict[str, Any]:
    """Everything known about the customer, decrypted, each fact with its source event;
    recorded in the access audit (and listed in the export itself)."""
    reader: Reader | None = getattr(request.app.state, "export_history", None)
    history: History | None = None
    if reader is not None:
        history = functools.partial(reader, pool=pool)
    async with pool.acquire() as conn:
        try:
            return await export(
                conn,
                customer_id,
                who=caller.name,
                role=caller.role.value,
                reason=reason,
                history=history,
            )
        except UnknownCustomer as exc:
            raise HTTPException(404, str(exc)) from None
