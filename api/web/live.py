"""Live updates: while a customer is open, their new touchpoints are pushed to the page as
server-sent events (rendered list items the page puts at the top of its timeline)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Caller
from api.parameters import CustomerKey
from api.web.forms import TimelineView
from api.web.render import fragment
from api.web.screen import Screen
from api.web.session import Rep

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 0.5
"""How often an open page's timeline is probed: a new touchpoint shows within about this
long after the timeline projection stored it (the issue asks for 2 s end to end)."""
KEEPALIVE_POLLS = 30
Known = Annotated[str, Query(max_length=320, description="The newest message_id shown.")]


@router.get("/view/{customer_id}/live")
async def live(
    request: Request, customer_id: CustomerKey, caller: Rep, since: Known = ""
) -> StreamingResponse:
    screen = Screen(request.app.state.reads, request.app.state.desk)
    view = TimelineView.of(request)
    stream = _touchpoints(request, screen, caller, customer_id, since, view)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _touchpoints(
    request: Request,
    screen: Screen,
    caller: Caller,
    customer_id: str,
    known: str,
    view: TimelineView,
) -> AsyncIterator[str]:
    quiet = 0
    yield "retry: 1000\n\n"
    while not await request.is_disconnected():
        fresh, known = await screen.newer(caller, customer_id, known, view.chosen, view.ask)
        if fresh:
            quiet = 0
            body = fragment("_timeline_rows.html", items=fresh)
            yield (
                "event: touchpoints\n"
                + "".join(f"data: {line}\n" for line in body.splitlines())
                + "\n"
            )
        else:
            quiet += 1
            if quiet >= KEEPALIVE_POLLS:  # a comment keeps proxies from closing the stream
                quiet = 0
                yield ": keepalive\n\n"
        await asyncio.sleep(POLL_SECONDS)
