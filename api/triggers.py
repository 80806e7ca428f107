"""``/triggers``: the offers and tasks the rules raised, and who worked them.

What a caller sees depends on its role (``api.trigger_access``): agents see service
tasks and marketing offers, marketing sees marketing offers, managers see everything,
suppressed triggers with the reason they were not sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import responses
from api.auth import CurrentCaller, Manager
from api.deps import Desk
from api.parameters import Identifier, Names, PageCursor, Reason, TriggerId
from api.reads import Disclosure
from api.trigger_desk import TriggerQuery
from api.trigger_schemas import ActionRequest, DeliveryLog, TriggerDetail, TriggerPage
from events import Tier
from projections.triggers.lifecycle import Action, Status
from projections.triggers.model import Audience, Kind

router = APIRouter(tags=["triggers"])


async def _note(body: ActionRequest | None = None) -> str | None:
    return body.note if body is not None else None


Note = Annotated[str | None, Depends(_note)]
Reveal = Annotated[
    Tier | None,
    Query(
        description="What raised a trigger is service tier: an agent reveals it with a "
        "reason, for one customer (audited)."
    ),
]


@router.get("/triggers", response_model=TriggerPage, responses=responses.CUSTOMER)
async def list_triggers(
    desk: Desk,
    caller: CurrentCaller,
    customer_id: Annotated[
        Identifier | None, Query(description="Only this customer's (404 if nobody knows it).")
    ] = None,
    rule: Annotated[Names, Query(description="Only these rules.")] = None,
    status: Annotated[
        list[Status] | None,
        Query(
            max_length=50, description="Default: open and acknowledged (managers: every status)."
        ),
    ] = None,
    kind: Annotated[list[Kind] | None, Query(max_length=50)] = None,
    audience: Annotated[list[Audience] | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: PageCursor = None,
    reveal: Reveal = None,
    reason: Reason = None,
) -> TriggerPage:
    """Triggers the caller's role may see, newest first (every read audited)."""
    query = TriggerQuery(
        customer_id,
        frozenset(rule or ()),
        frozenset(status or ()),
        frozenset(kind or ()),
        frozenset(audience or ()),
    )
    return await desk.listing(caller, query, cursor, limit, Disclosure(reveal, reason))


@router.get("/triggers/{trigger_id}", response_model=TriggerDetail, responses=responses.TRIGGER)
async def get_trigger(
    trigger_id: TriggerId,
    desk: Desk,
    caller: CurrentCaller,
    reveal: Reveal = None,
    reason: Reason = None,
) -> TriggerDetail:
    """One trigger, with who acknowledged or closed it (audited)."""
    return await desk.get(caller, trigger_id, Disclosure(reveal, reason))


@router.post(
    "/triggers/{trigger_id}/acknowledge",
    response_model=TriggerDetail,
    responses=responses.TRIGGER_ACTION,
)
async def acknowledge(
    trigger_id: TriggerId, desk: Desk, caller: CurrentCaller, note: Note
) -> TriggerDetail:
    """Someone is on it (agents and managers); an open trigger only."""
    return await desk.act(caller, trigger_id, Action.ACKNOWLEDGE, note)


@router.post(
    "/triggers/{trigger_id}/close", response_model=TriggerDetail, responses=responses.TRIGGER_ACTION
)
async def close(
    trigger_id: TriggerId, desk: Desk, caller: CurrentCaller, note: Note
) -> TriggerDetail:
    """Done (agents and managers; marketing, its own offers); open or acknowledged only."""
    return await desk.act(caller, trigger_id, Action.CLOSE, note)


@router.get(
    "/triggers/{trigger_id}/deliveries", response_model=DeliveryLog, responses=responses.TRIGGER
)
async def deliveries(trigger_id: TriggerId, desk: Desk, caller: Manager) -> DeliveryLog:
    """The webhook delivery log of a trigger: each subscriber, every attempt (managers)."""
    return await desk.deliveries(trigger_id)
