"""Working the triggers: what each role may list, open and do to the offers and tasks the
rules raised (``api.trigger_access``), with who did what recorded beside the trigger."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from api import audit_log
from api.auth import Caller
from api.errors import NotFound, Unprocessable
from api.known_customers import is_known
from api.profile_access import check_reveal
from api.reads import Disclosure
from api.roles import Role
from api.trigger_access import (
    check_action,
    check_visible,
    listing_scope,
    reasons_readable,
    shown_reason,
)
from api.trigger_schemas import DeliveryItem, DeliveryLog, TriggerDetail, TriggerItem, TriggerPage
from events import Tier
from projections.cursor import Cursor, InvalidCursor
from projections.db import Queryable
from projections.triggers import queries as store
from projections.triggers.lifecycle import Action, Status
from projections.triggers.model import Audience, Kind

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class TriggerQuery:
    """What a caller asks to list; empty sets mean its role's defaults (or any)."""

    customer_id: str | None = None
    rules: Set[str] = frozenset()
    statuses: Set[Status] = frozenset()
    kinds: Set[Kind] = frozenset()
    audiences: Set[Audience] = frozenset()


@dataclass(frozen=True)
class TriggerDesk:
    pool: asyncpg.Pool

    async def listing(
        self,
        caller: Caller,
        query: TriggerQuery,
        cursor: str | None,
        limit: int,
        ask: Disclosure = Disclosure(),  # noqa: B008  # frozen: one shared value is safe
    ) -> TriggerPage:
        """Triggers the caller's role may see, newest first (``NotFound`` for a customer
        nobody knows); their reasons only if the caller may read them (an agent: revealed,
        for one customer). The read is audited before it is answered."""
        statuses, kinds = listing_scope(caller.role, query.statuses, query.kinds)
        readable = _reasons_readable(caller, ask)
        if ask.reveal is not None and caller.role is not Role.MANAGER and not query.customer_id:
            raise Unprocessable("customer_id", "a reveal is for one customer: name it")
        if query.customer_id is not None and not await is_known(self.pool, query.customer_id):
            raise NotFound(f"no customer {query.customer_id}")
        where = store.TriggerFilter(
            query.customer_id, query.rules, statuses, kinds, query.audiences
        )
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                after = Cursor.decode(cursor) if cursor else None
                page = await store.list_triggers(conn, where, limit=limit, after=after)
            except InvalidCursor as exc:
                raise Unprocessable("cursor", str(exc)) from None
            triggers = [_shown(t, readable) for t in page.triggers]
            audit_id = await _audit(conn, caller, "triggers", triggers, readable, ask)
        return TriggerPage(
            triggers=[TriggerItem.model_validate(t) for t in triggers],
            next_cursor=page.next_cursor,
            audit_id=audit_id,
        )

    async def get(
        self,
        caller: Caller,
        trigger_id: str,
        ask: Disclosure = Disclosure(),  # noqa: B008  # frozen: one shared value is safe
    ) -> TriggerDetail:
        """One trigger, with who acknowledged or closed it (``UnknownTrigger``)."""
        readable = _reasons_readable(caller, ask)
        async with self.pool.acquire() as conn, conn.transaction():
            trigger = await store.get_trigger(conn, trigger_id)
            check_visible(caller.role, Kind(trigger["kind"]), Status(trigger["status"]))
            shown = _shown(trigger, readable)
            audit_id = await _audit(conn, caller, "trigger", [shown], readable, ask)
            detail = await _detail(conn, shown)
        return detail.model_copy(update={"audit_id": audit_id})

    async def act(
        self, caller: Caller, trigger_id: str, action: Action, note: str | None
    ) -> TriggerDetail:
        """Acknowledge or close a trigger, if the caller's role may (``Refused``) and its
        status allows (``InvalidTransition``)."""
        async with self.pool.acquire() as conn, conn.transaction():
            trigger = await store.lock_trigger(conn, trigger_id)
            check_action(caller.role, Kind(trigger["kind"]), Status(trigger["status"]), action)
            trigger = await store.record_action(
                conn, trigger, action, caller.name, caller.role.value, note
            )
            readable = _reasons_readable(caller, Disclosure())
            shown = _shown(trigger, readable)
            audit_id = await _audit(conn, caller, f"trigger.{action.value}", [shown], readable)
            detail = (await _detail(conn, shown)).model_copy(update={"audit_id": audit_id})
        log.info(
            "trigger_worked",
            trigger_id=trigger_id,
            action=action.value,
            actor=caller.name,
            role=caller.role.value,
        )
        return detail

    async def deliveries(self, trigger_id: str) -> DeliveryLog:
        """Each subscriber's webhook delivery of a trigger, every attempt (managers: the
        route checks the role)."""
        await store.get_trigger(self.pool, trigger_id)
        entries = await store.delivery_log(self.pool, trigger_id)
        return DeliveryLog(
            trigger_id=trigger_id, deliveries=[DeliveryItem.model_validate(d) for d in entries]
        )


def _reasons_readable(caller: Caller, ask: Disclosure) -> bool:
    check_reveal(caller.role, ask.reveal, ask.reason)
    return reasons_readable(caller.role, ask.reveal)


def _shown(trigger: dict[str, Any], readable: bool) -> dict[str, Any]:
    reason = shown_reason(trigger["rule_type"], trigger["reason"], readable)
    return {**trigger, "reason": reason, "reason_withheld": not readable}


async def _audit(
    conn: Queryable,
    caller: Caller,
    action: str,
    triggers: list[dict[str, Any]],
    readable: bool,
    ask: Disclosure = Disclosure(),  # noqa: B008  # frozen: one shared value is safe
) -> int:
    """Record a read of triggers: whose, and whether what raised them was served."""
    served = readable and bool(triggers)
    access = audit_log.Access(
        caller.name,
        caller.role.value,
        None,
        action,
        ["trigger.reason"] if served else [],
        ask.reason,
        customer_ids=list(dict.fromkeys(t["customer_id"] for t in triggers)),
        tier=Tier.SERVICE if served else Tier.ESSENTIAL,
    )
    return await audit_log.record(conn, access)


async def _detail(conn: Queryable, trigger: dict[str, Any]) -> TriggerDetail:
    actions = await store.actions_of(conn, trigger["trigger_id"])
    return TriggerDetail.model_validate({**trigger, "actions": actions})
