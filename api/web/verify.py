"""``POST /customers/{customer_id}/verify``: check the answer a caller gives to their
memorable word or date (``api.verification``), from the API and from the screen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from api import responses
from api.auth import Representative
from api.parameters import STORABLE, CustomerKey
from api.verification import MAX_FAILURES, Verdict, Verifier
from api.web import forms
from api.web.render import html
from api.web.session import CheckedRep

router = APIRouter(tags=["customers"])


class VerifyRequest(BaseModel):
    answer: Annotated[str, Field(min_length=1, max_length=200, pattern=STORABLE)]
    """What the caller said: checked, never stored, logged or sent back."""


class VerifyResult(BaseModel):
    customer_id: str
    outcome: str
    """verified, wrong, locked (too many wrong answers: try later), not_set (no answer on
    file: verify another way)."""
    attempts_left: int
    audit_id: int | None


def _verifier(request: Request) -> Verifier:
    return Verifier(request.app.state.pool, request.app.state.verified)


@router.post(
    "/customers/{customer_id}/verify",
    response_model=VerifyResult,
    responses=responses.CUSTOMER | responses.UNREADABLE_BODY,
)
async def verify(
    customer_id: CustomerKey, body: VerifyRequest, request: Request, caller: Representative
) -> VerifyResult:
    """Check a caller's memorable word or date (agents and managers). Every attempt is
    audited; after 3 wrong answers the customer's verification is locked for 15 minutes."""
    verdict = await _verifier(request).verify(caller, customer_id, body.answer)
    return VerifyResult(
        customer_id=verdict.customer_id,
        outcome=verdict.outcome.value,
        attempts_left=verdict.attempts_left,
        audit_id=verdict.audit_id,
    )


@router.post("/view/{customer_id}/verify", include_in_schema=False, response_class=HTMLResponse)
async def verify_on_screen(
    request: Request, customer_id: CustomerKey, caller: CheckedRep
) -> Response:
    answer = (await forms.form(request)).get("answer", "")
    verdict: Verdict | None = None
    if answer:
        verdict = await _verifier(request).verify(caller, customer_id, answer[:200])
    verified = verdict is not None and verdict.outcome.value == "verified"
    return html(
        request,
        "_verify.html",
        customer_id=customer_id,
        verdict=verdict,
        verified=verified,
        max_failures=MAX_FAILURES,
    )
