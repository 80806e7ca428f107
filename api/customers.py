"""Customers as reps find them: by id (aliases followed), by identifier, by caller phone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from api import next_best, responses
from api.auth import Representative
from api.deps import Reads
from api.parameters import CustomerKey, Identifier
from api.schemas import Customer, LookupResult

router = APIRouter(tags=["customers"])


@router.get(
    "/customers/{customer_id}",
    response_model=Customer,
    responses=responses.CUSTOMER | responses.MERGED,
)
async def customer(
    customer_id: CustomerKey, reads: Reads, request: Request, caller: Representative
) -> Customer | RedirectResponse:
    found = await reads.customer(customer_id, caller)
    if found.customer_id != customer_id:
        return RedirectResponse(request.url_for("customer", customer_id=found.customer_id), 307)
    offers = await next_best.of_family(reads.pool, found.merged_ids)
    return found.model_copy(update={"next_best_offers": offers})


@router.get("/lookup", response_model=LookupResult, responses=responses.SIGNED_IN)
async def lookup(
    reads: Reads,
    caller: Representative,
    phone: Annotated[Identifier | None, Query(description="Any written form.")] = None,
    email: Identifier | None = None,
    external_id: Annotated[Identifier | None, Query(description="TYPE:ID")] = None,
) -> Response:
    """Who is calling? The essential card of every customer the identifier leads to (none:
    an empty list, with why if the identifier cannot identify anyone; several: ``ambiguous``,
    every one listed, and ``shared`` if it is a shared number)."""
    written = {"phone": phone, "email": email, "external_id": external_id}
    result = await reads.lookup(caller, written)
    # Serialised once, by the model itself: what FastAPI would send for ``response_model``
    # without validating the model it was given again.
    return Response(result.model_dump_json(), media_type="application/json")
