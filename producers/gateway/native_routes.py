"""``POST /v1/events`` and ``POST /v1/events/batch``: touchlog's own envelope."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from producers.gateway.http import GatewayDep, WriteKey, read_json, respond
from producers.gateway.responses import error_responses, request_body
from producers.gateway.schemas import BatchResult, EventAccepted

router = APIRouter(prefix="/v1/events", tags=["native"])


@router.post(
    "",
    summary="Publish one event",
    response_model=EventAccepted,
    responses=error_responses(batch=False),
    openapi_extra=request_body("NativeEvent"),
)
async def publish_event(request: Request, gateway: GatewayDep, source: WriteKey) -> Response:
    """Answered once the broker acknowledged the event (``acks=all``) or knew it already."""
    document = await read_json(request, gateway.limits.event_bytes, "event")
    return respond(await gateway.native_event(document, source))


@router.post(
    "/batch",
    summary="Publish up to 1,000 events (500 KB)",
    response_model=BatchResult,
    responses=error_responses(batch=True),
    openapi_extra=request_body("NativeBatch"),
)
async def publish_batch(request: Request, gateway: GatewayDep, source: WriteKey) -> Response:
    """Each event is accepted or rejected on its own; ``results`` says which and why."""
    document = await read_json(request, gateway.limits.batch_bytes, "batch")
    return respond(await gateway.native_batch(document, source))
