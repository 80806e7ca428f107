"""Customers as reps find them: by id (aliases followed), by identifier, by caller phone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from api.auth import Representative
from api.deps import Pool, Rules
from projections.caller.postgres import caller_cards
from projections.db import Queryable
from projections.identity import IdentifierKind, IdentityRules, Rejected
from projections.identity import postgres as identity

router = APIRouter(tags=["customers"])


class LastContact(BaseModel):
    at: datetime
    type: str
    channel: str


class CallerCard(BaseModel):
    customer_id: str
    title: str | None
    given_name: str | None
    family_name: str | None
    pronunciation: str | None
    last_contact: LastContact | None
    open_complaints: int


class LookupResult(BaseModel):
    identifier: str
    """The identifier searched for, normalised (e.g. ``phone:+33628230455``)."""
    candidates: list[CallerCard]
    """Every customer it leads to: several means ambiguous — never a guess."""
    not_matched: str | None = None
    """Why the identifier cannot identify anyone (e.g. a blocklisted switchboard number)."""


class Customer(BaseModel):
    customer_id: str
    born_at: datetime
    merged_ids: list[str]
    identifiers: list[str]


async def survivor_keys(conn: Queryable, key: str, rules: IdentityRules) -> list[str]:
    """The subject keys whose rows form ``key``'s timeline.

    ``key`` is a customer id (a merged one leads to its survivor), or an identifier
    such as ``email:ann@example.com`` or ``phone:06 28 23 04 55`` naming one customer.
    """
    kind_name, colon, raw = key.partition(":")
    kind = _KINDS.get(kind_name) if colon else None
    if kind is not None:
        identifier = _identifier(rules, kind, raw, "key")
        customers = await identity.customers_for(conn, identifier)
        if len(customers) > 1:
            raise HTTPException(
                status_code=300, detail={"ambiguous": identifier, "candidates": customers}
            )
        if not customers:
            return []
        key = customers[0]
    survivor = await identity.survivor_of(conn, key)
    return await identity.merged_ids(conn, survivor) if survivor else [key]


_KINDS = {kind.prefix: kind for kind in IdentifierKind}


def _identifier(rules: IdentityRules, kind: IdentifierKind, raw: str, field: str) -> str:
    accepted = rules.identifier(kind, raw)
    if isinstance(accepted, Rejected):
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", field], "msg": accepted.reason, "type": "value_error"}],
        )
    return accepted.key


@router.get(
    "/customers/{customer_id}",
    response_model=Customer,
    responses={307: {"description": "Merged: see the surviving customer"}},
)
async def customer(customer_id: str, pool: Pool, request: Request, caller: Representative) -> Any:
    survivor = await identity.survivor_of(pool, customer_id)
    if survivor is None:
        raise HTTPException(status_code=404, detail=f"no customer {customer_id}")
    if survivor != customer_id:
        return RedirectResponse(request.url_for("customer", customer_id=survivor), 307)
    merged = await identity.merged_ids(pool, survivor)
    born_at = await pool.fetchval(
        "SELECT born_at FROM identity_customers WHERE customer_id = $1", survivor
    )
    identifiers = await pool.fetch(
        "SELECT DISTINCT identifier FROM identity_links WHERE customer_id = ANY($1::text[]) "
        "ORDER BY identifier",
        merged,
    )
    return Customer(
        customer_id=survivor,
        born_at=born_at,
        merged_ids=merged,
        identifiers=[r["identifier"] for r in identifiers],
    )


def _json(result: LookupResult) -> Response:
    """Serialised once, by the model itself: what FastAPI would send for ``response_model``
    without validating the model it was given again."""
    return Response(result.model_dump_json(), media_type="application/json")


@router.get("/lookup", response_model=LookupResult)
async def lookup(
    pool: Pool,
    rules: Rules,
    caller: Representative,
    phone: Annotated[str | None, Query(description="Any written form.")] = None,
    email: str | None = None,
    external_id: Annotated[str | None, Query(description="TYPE:ID")] = None,
) -> Response:
    """Who is calling? The essential card of every customer the identifier leads to."""
    given = {
        name: value
        for name, value in (("phone", phone), ("email", email), ("external_id", external_id))
        if value
    }
    if len(given) != 1:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["query"],
                    "msg": "give exactly one of phone, email, external_id",
                    "type": "value_error",
                }
            ],
        )
    [(field, raw)] = given.items()
    kind = {
        "phone": IdentifierKind.PHONE,
        "email": IdentifierKind.EMAIL,
        "external_id": IdentifierKind.EXTERNAL_ID,
    }[field]
    accepted = rules.identifier(kind, raw)
    if isinstance(accepted, Rejected):
        if accepted.reason.startswith("not a valid"):
            raise HTTPException(
                status_code=422,
                detail=[{"loc": ["query", field], "msg": accepted.reason, "type": "value_error"}],
            )
        return _json(
            LookupResult(
                identifier=f"{kind.prefix}:{raw}", candidates=[], not_matched=accepted.reason
            )
        )
    cards = await caller_cards(pool, accepted.key)  # one round trip
    return _json(
        LookupResult(
            identifier=accepted.key, candidates=[CallerCard.model_validate(c) for c in cards]
        )
    )
