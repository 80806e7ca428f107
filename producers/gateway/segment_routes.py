"""Segment / RudderStack HTTP Tracking API: ``/v1/track``, ``/v1/identify``, … ``/v1/batch``.

Point a Segment or RudderStack client's host at the gateway and give it a write key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response

from producers.gateway.http import GatewayDep, WriteKey, read_json, respond
from producers.gateway.limits import SEGMENT_TYPES
from producers.gateway.responses import error_responses, request_body
from producers.gateway.schemas import SEGMENT_MESSAGES, BatchResult, SegmentAccepted

router = APIRouter(prefix="/v1", tags=["segment"])

_WHAT = {
    "track": "an action: mapped names become their touchpoint type, others event.tracked",
    "identify": "who the user is: traits become profile.updated",
    "page": "a page view, kept as event.tracked",
    "screen": "an app screen view, kept as event.tracked",
    "group": "the user's group or account, kept as event.tracked",
    "alias": "two ids of one user: identity.linked",
}


def _call_route(call: str) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request, gateway: GatewayDep, source: WriteKey) -> Response:
        document = await read_json(request, gateway.limits.event_bytes, "event", SEGMENT_TYPES)
        return respond(await gateway.segment_call(call, document, source))

    route.__name__ = f"segment_{call}"
    route.__doc__ = f"Segment `{call}`: {_WHAT[call]}."
    return route


for _call in SEGMENT_MESSAGES:
    router.add_api_route(
        f"/{_call}",
        _call_route(_call),
        methods=["POST"],
        summary=f"Segment {_call}",
        response_model=SegmentAccepted,
        responses=error_responses(batch=False),
        openapi_extra=request_body(f"Segment{_call.title()}"),
    )


@router.post(
    "/batch",
    summary="Segment batch (up to 1,000 messages, 500 KB)",
    response_model=BatchResult,
    responses=error_responses(batch=True),
    openapi_extra=request_body("SegmentBatch"),
)
async def segment_batch(request: Request, gateway: GatewayDep, source: WriteKey) -> Response:
    """What Segment's libraries send. The batch's ``context`` is merged into each message's
    and its ``sentAt`` corrects their clock skew; each message is accepted or rejected alone."""
    document = await read_json(request, gateway.limits.batch_bytes, "batch", SEGMENT_TYPES)
    return respond(await gateway.segment_batch(document, source))
