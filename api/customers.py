"""Customers as reps find them: by id (aliases followed), by identifier, by caller phone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import Representative
from api.deps import Reads
from api.schemas import Customer, LookupResult

router = APIRouter(tags=["customers"])


@router.get(
    "/customers/{customer_id}",
    response_model=Customer,
    responses={307: {"description": "Merged: see the surviving customer"}},
)
async def customer(
    customer_id: str, reads: Reads, request: Request, caller: Representative
) -> Customer | RedirectResponse:
    found = await reads.customer(customer_id)
    if found.customer_id != customer_id:
        return RedirectResponse(request.url_for("customer", customer_id=found.customer_id), 307)
    return found


@router.get("/lookup", response_model=LookupResult)
async def lookup(
    reads: Reads,
    caller: Representative,
    phone: Annotated[str | None, Query(description="Any written form.")] = None,
    email: str | None = None,
    external_id: Annotated[str | None, Query(description="TYPE:ID")] = None,
) -> Response:
    """Who is calling? The essential card of every customer the identifier leads to."""
    result = await reads.lookup({"phone": phone, "email": email, "external_id": external_id})
    # Serialised once, by the model itself: what FastAPI would send for ``response_model``
    # without validating the model it was given again.
    return Response(result.model_dump_json(), media_type="application/json")
