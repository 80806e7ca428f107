"""A manager's identity decisions from the screen: confirm or reject a suspected duplicate,
split a wrong merge, each with a reason. As with ``touchlog identity``, a decision is an
event published to the log (the resolver applies it, so a rebuild keeps it).

The API process publishes only if its composition root gave it a way to:
``app.state.publish_decision`` (``projections.identity.decisions.Publish``). Without one
the screen lists the suggestions and answers a decision with 503 and the command to run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.errors import Unprocessable
from api.web import forms
from api.web.render import html
from api.web.session import CheckedManager
from events import Touchpoint
from projections.identity.decision_events import Decided
from projections.identity.decisions import IdentityDecisions, Publish
from projections.identity.postgres import StoredGraph

router = APIRouter(include_in_schema=False)


class DecisionsUnavailable(Exception):  # answered 503
    """This API process was given no way to publish to the log."""


async def _publisher(request: Request) -> Publish:
    publish: Publish | None = getattr(request.app.state, "publish_decision", None)
    if publish is None:
        raise DecisionsUnavailable(
            "this API process does not publish to the log: decide with "
            "`touchlog identity confirm|reject|split … --by NAME --reason …`"
        )
    return publish


Publisher = Annotated[Publish, Depends(_publisher)]
Decide = Callable[[IdentityDecisions, dict[str, str], Decided], Awaitable[Touchpoint]]


def _confirm(d: IdentityDecisions, sent: dict[str, str], by: Decided) -> Awaitable[Any]:
    return d.confirm(sent["customer"], sent["other"], by, None)


def _reject(d: IdentityDecisions, sent: dict[str, str], by: Decided) -> Awaitable[Any]:
    return d.reject(sent["customer"], sent["other"], by)


def _split(d: IdentityDecisions, sent: dict[str, str], by: Decided) -> Awaitable[Any]:
    return d.split(sent["customer"], sent["other"], by, [])


DECISIONS: dict[str, Decide] = {"confirm": _confirm, "reject": _reject, "split": _split}


@router.post("/manager/identity/{decision}", response_class=HTMLResponse)
async def decide(
    request: Request, decision: str, caller: CheckedManager, publish: Publisher
) -> Response:
    """Confirm, reject (``customer``, ``other``) or split (``customer`` the survivor,
    ``other`` the customer merged into it by mistake), with a ``reason``."""
    sent = await forms.form(request)
    if decision not in DECISIONS:
        raise Unprocessable("decision", "confirm, reject or split", "path")
    if len(sent.get("reason", "")) < 3:
        raise Unprocessable("reason", "a decision needs a reason (it is in the log)", "body")
    if not sent.get("customer") or not sent.get("other"):
        raise Unprocessable("customer", "two customers are needed", "body")
    decided = Decided(caller.name, datetime.now(UTC), sent["reason"])
    async with request.app.state.pool.acquire() as conn:
        try:
            event = await DECISIONS[decision](
                IdentityDecisions(StoredGraph(conn), publish), sent, decided
            )
        except (LookupError, ValueError) as exc:
            raise Unprocessable("customer", str(exc), "body") from None
    return html(request, "_decision.html", decision=decision, event=event, sent=sent)
