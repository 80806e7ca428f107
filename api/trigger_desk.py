"""Working the triggers: what each role may list, open and do to the offers and tasks the
rules raised (``api.trigger_access``), with who did what recorded beside the trigger."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from api.auth import Caller
from api.errors import NotFound, Unprocessable
from api.known_customers import is_known
from api.trigger_access import check_action, check_visible, listing_scope
from api.trigger_schemas import DeliveryItem, DeliveryLog, TriggerDetail, TriggerItem, TriggerPage
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
        self, caller: Caller, query: TriggerQuery, cursor: str | None, limit: int
    ) -> TriggerPage:
        """Triggers the caller's role may see, newest first (``NotFound`` for a customer
        nobody knows)."""
        statuses, kinds = listing_scope(caller.role, query.statuses, query.kinds)
        if query.customer_id is not None and not await is_known(self.pool, query.customer_id):
            raise NotFound(f"no customer {query.customer_id}")
        where = store.TriggerFilter(
            query.customer_id, query.rules, statuses, kinds, query.audiences
        )
        try:
            after = Cursor.decode(cursor) if cursor else None
            page = await store.list_triggers(self.pool, where, limit=limit, after=after)
        except InvalidCursor as exc:
            raise Unprocessable("cursor", str(exc)) from None
        return TriggerPage(
            triggers=[TriggerItem.model_validate(t) for t in page.triggers],
            next_cursor=page.next_cursor,
        )

    async def get(self, caller: Caller, trigger_id: str) -> TriggerDetail:
        """One trigger, with who acknowledged or closed it (``UnknownTrigger``)."""
        trigger = await store.get_trigger(self.pool, trigger_id)
        check_visible(caller.role, Kind(trigger["kind"]), Status(trigger["status"]))
        return await _detail(self.pool, trigger)

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
            detail = await _detail(conn, trigger)
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


async def _detail(conn: Queryable, trigger: dict[str, Any]) -> TriggerDetail:
    actions = await store.actions_of(conn, trigger["trigger_id"])
    return TriggerDetail.model_validate({**trigger, "actions": actions})
