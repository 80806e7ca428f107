"""``/triggers``: the offers and tasks the rules raised, and who worked them.

What a caller sees depends on its role (``projections.triggers.access``): agents see
service tasks and marketing offers, marketing sees marketing offers, managers see
everything, suppressed triggers with the reason they were not sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.auth import Caller, CurrentCaller, Manager, refused
from api.deps import Pool
from projections.db import Queryable
from projections.profile.access import Refused
from projections.triggers import access
from projections.triggers import queries as store
from projections.triggers.lifecycle import Action, InvalidTransition, Status
from projections.triggers.model import Audience, Kind

router = APIRouter(tags=["triggers"])
log = structlog.get_logger()


class TriggerItem(BaseModel):
    trigger_id: str
    customer_id: str
    rule: str
    rule_type: str
    kind: Kind
    audience: Audience
    channel: str | None
    reason: str
    evidence: list[str]
    """message_id of each event that justifies it."""
    offer: str | None
    created_at: datetime
    expires_at: datetime
    status: Status
    status_changed_at: datetime | None
    suppressed: str | None
    """Why it was not sent (managers only see suppressed triggers)."""
    suppressed_reason: str | None


class TriggerPage(BaseModel):
    triggers: list[TriggerItem]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; null on the last page."""


class ActionItem(BaseModel):
    action: str
    actor: str
    role: str
    note: str | None
    at: datetime


class TriggerDetail(TriggerItem):
    actions: list[ActionItem]
    """Who acknowledged or closed it, oldest first."""


class ActionRequest(BaseModel):
    note: str | None = Field(None, max_length=2000)


class AttemptItem(BaseModel):
    attempt: int
    at: datetime
    http_status: int | None
    error: str | None
    duration_ms: float


class DeliveryItem(BaseModel):
    subscriber: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    enqueued_at: datetime
    log: list[AttemptItem]


class DeliveryLog(BaseModel):
    trigger_id: str
    deliveries: list[DeliveryItem]


def _unprocessable(parameter: str, message: str) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


def _not_found(trigger_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no trigger {trigger_id}")


@router.get("/triggers", response_model=TriggerPage)
async def list_triggers(
    pool: Pool,
    caller: CurrentCaller,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    rule: Annotated[list[str] | None, Query(description="Only these rules.")] = None,
    status: Annotated[
        list[Status] | None,
        Query(description="Default: open and acknowledged (managers: every status)."),
    ] = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    audience: Annotated[list[Audience] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="From a previous page.")] = None,
) -> TriggerPage:
    """Triggers the caller's role may see, newest first."""
    try:
        statuses, kinds = access.listing_scope(caller.role, set(status or ()), set(kind or ()))
    except Refused as exc:
        raise refused(exc) from None
    try:
        after = store.Cursor.decode(cursor) if cursor else None
    except store.InvalidCursor as exc:
        raise _unprocessable("cursor", str(exc)) from None
    where = store.TriggerFilter(
        customer_id=customer_id,
        rules=frozenset(rule or ()),
        statuses=statuses,
        kinds=kinds,
        audiences=frozenset(audience or ()),
    )
    page = await store.list_triggers(pool, where, limit=limit, after=after)
    return TriggerPage(
        triggers=[TriggerItem.model_validate(t) for t in page.triggers],
        next_cursor=page.next_cursor,
    )


async def _detail(pool: Queryable, trigger: dict[str, Any]) -> TriggerDetail:
    actions = await store.actions_of(pool, trigger["trigger_id"])
    return TriggerDetail.model_validate({**trigger, "actions": actions})


@router.get("/triggers/{trigger_id}", response_model=TriggerDetail)
async def get_trigger(trigger_id: str, pool: Pool, caller: CurrentCaller) -> TriggerDetail:
    """One trigger, with who acknowledged or closed it."""
    try:
        trigger = await store.get_trigger(pool, trigger_id)
        access.check_visible(caller.role, Kind(trigger["kind"]), Status(trigger["status"]))
    except store.UnknownTrigger:
        raise _not_found(trigger_id) from None
    except Refused as exc:
        raise refused(exc) from None
    return await _detail(pool, trigger)


async def _act(
    pool: Pool, caller: Caller, trigger_id: str, action: Action, body: ActionRequest | None
) -> TriggerDetail:
    note = body.note if body is not None else None
    async with pool.acquire() as conn, conn.transaction():
        try:
            trigger = await store.lock_trigger(conn, trigger_id)
            access.check_action(
                caller.role, Kind(trigger["kind"]), Status(trigger["status"]), action
            )
            trigger = await store.record_action(
                conn, trigger, action, caller.name, caller.role.value, note
            )
        except store.UnknownTrigger:
            raise _not_found(trigger_id) from None
        except Refused as exc:
            raise refused(exc) from None
        except InvalidTransition as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        detail = await _detail(conn, trigger)
    log.info(
        "trigger_worked",
        trigger_id=trigger_id,
        action=action.value,
        actor=caller.name,
        role=caller.role.value,
    )
    return detail


@router.post("/triggers/{trigger_id}/acknowledge", response_model=TriggerDetail)
async def acknowledge(
    trigger_id: str, pool: Pool, caller: CurrentCaller, body: ActionRequest | None = None
) -> TriggerDetail:
    """Someone is on it (agents and managers); an open trigger only."""
    return await _act(pool, caller, trigger_id, Action.ACKNOWLEDGE, body)


@router.post("/triggers/{trigger_id}/close", response_model=TriggerDetail)
async def close(
    trigger_id: str, pool: Pool, caller: CurrentCaller, body: ActionRequest | None = None
) -> TriggerDetail:
    """Done (agents and managers; marketing, its own offers); open or acknowledged only."""
    return await _act(pool, caller, trigger_id, Action.CLOSE, body)


@router.get("/triggers/{trigger_id}/deliveries", response_model=DeliveryLog)
async def deliveries(trigger_id: str, pool: Pool, caller: Manager) -> DeliveryLog:
    """The webhook delivery log of a trigger: each subscriber, every attempt (managers)."""
    try:
        await store.get_trigger(pool, trigger_id)
    except store.UnknownTrigger:
        raise _not_found(trigger_id) from None
    entries = await store.delivery_log(pool, trigger_id)
    return DeliveryLog(
        trigger_id=trigger_id, deliveries=[DeliveryItem.model_validate(d) for d in entries]
    )
