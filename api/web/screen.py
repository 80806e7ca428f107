"""What the rep's screen shows, read through the API's own read services (``CustomerReads``,
``TriggerDesk``): the same merge-family walk, the same tier rules and the same access
audit as the JSON routes. This module only puts their answers side by side."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from api import next_best
from api.audience_schemas import Recommendation
from api.auth import Caller
from api.reads import CustomerReads, Disclosure, TimelineQuery
from api.schemas import CallerCard, ProfileResponse, TimelineItem, TimelineResponse
from api.trigger_desk import TriggerDesk, TriggerQuery
from api.trigger_schemas import TriggerItem
from events import Channel
from projections.caller.postgres import caller_card
from projections.triggers.lifecycle import Status
from projections.triggers.model import Kind


@dataclass(frozen=True, slots=True)
class Desk:
    """One customer's card with what is waiting for them: service tasks and offers, and
    the categories to offer next (co-purchases: what they have not bought)."""

    card: CallerCard
    tasks: list[TriggerItem] = field(default_factory=list)
    offers: list[TriggerItem] = field(default_factory=list)
    recommended: list[Recommendation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    channels: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    business_units: tuple[str, ...] = ()

    def keeps(self, item: TimelineItem) -> bool:
        return all(
            not chosen or value in chosen
            for chosen, value in (
                (self.channels, item.channel),
                (self.types, item.type),
                (self.business_units, item.business_unit),
            )
        )


@dataclass(frozen=True)
class Screen:
    reads: CustomerReads
    desk: TriggerDesk

    async def desk_of(self, caller: Caller, card: CallerCard) -> Desk:
        """A card with the triggers the caller's role sees for that customer."""
        page = await self.desk.listing(
            caller, TriggerQuery(customer_id=card.customer_id), cursor=None, limit=50
        )
        recommended = await next_best.for_rep(self.reads.pool, caller, card.customer_id)
        return Desk(
            card,
            tasks=[t for t in page.triggers if t.kind is Kind.SERVICE],
            offers=[t for t in page.triggers if t.kind is Kind.MARKETING],
            recommended=recommended,
        )

    async def card(self, customer_id: str) -> CallerCard:
        """The essential card of a customer id's family (``NotFound``)."""
        customer = await self.reads.customer(customer_id)
        found = await caller_card(self.reads.pool, customer.customer_id, customer.merged_ids)
        return CallerCard.model_validate(found)

    async def profile(self, caller: Caller, customer_id: str, ask: Disclosure) -> ProfileResponse:
        return await self.reads.profile(caller, customer_id, ask)

    async def timeline(
        self,
        caller: Caller,
        customer_id: str,
        before: str | None,
        chosen: TimelineFilter,
        ask: Disclosure,
        limit: int = 50,
    ) -> TimelineResponse:
        """A page of the timeline, filtered by the store: every page is full until the end."""
        channels = tuple(Channel(c) for c in chosen.channels)
        query = TimelineQuery(before, limit, channels, chosen.types, chosen.business_units)
        page = await self.reads.timeline(caller, customer_id, query, ask)
        return page.model_copy(update={"items": [_shown(i) for i in page.items]})

    async def newer(
        self, caller: Caller, customer_id: str, known: str, chosen: TimelineFilter, ask: Disclosure
    ) -> tuple[list[TimelineItem], str]:
        """Touchpoints newer than ``known`` (the newest one the page shows), and the newest
        now. A cheap probe first, which serves and records nothing: the page the caller
        reads (and the audit record it makes) only when something arrived."""
        head = await self.reads.newest_touchpoint(customer_id)
        if head is None or head == known:
            return [], known
        page = await self.reads.timeline(caller, customer_id, TimelineQuery(limit=50), ask)
        fresh = list(itertools.takewhile(lambda i: i.message_id != known, page.items))
        newest = page.items[0].message_id if page.items else known
        return [_shown(i) for i in fresh if chosen.keeps(i)], newest

    async def manager_desk(self, caller: Caller) -> list[TriggerItem]:
        """Suppressed triggers, newest first, with why they were not sent."""
        page = await self.desk.listing(
            caller, TriggerQuery(statuses=frozenset({Status.SUPPRESSED})), cursor=None, limit=50
        )
        return page.triggers


HIDDEN = "(on file)"
"""What the screen shows of a verification answer's hash, even to a manager."""


def _shown(item: TimelineItem) -> TimelineItem:
    if "answer_hash" not in item.payload:
        return item
    return item.model_copy(update={"payload": item.payload | {"answer_hash": HIDDEN}})


def sections(profile: ProfileResponse) -> list[tuple[str, dict[str, Any]]]:
    """The profile's tiers the caller was served, in order, without empty values (and
    without a verification answer's hash)."""
    found = []
    for tier in ("essential", "service", "restricted"):
        values = getattr(profile, tier)
        if values is not None:
            shown = {k: v for k, v in values.items() if v not in (None, [], {})}
            if isinstance(shown.get("verification"), dict):
                shown["verification"] = shown["verification"] | {"answer_hash": HIDDEN}
            found.append((tier, shown))
    return found
