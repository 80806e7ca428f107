"""What every rule may rely on, kept up to date before the rules see an event.

Activity and reachability come from every event (``noted``); purchases, refunds,
consents, contact details and open complaints from their own event types (``FACTS``,
the first watches in the engine's handler table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events import Touchpoint
from events.touchpoints import (
    ComplaintOpened,
    ComplaintResolved,
    ConsentChanged,
    ProfileUpdated,
    PurchaseCompleted,
    RefundIssued,
)
from projections.triggers.handlers import E, Watch
from projections.triggers.state import Complaint, Consent, CustomerState, remembered_ids

NOT_ACTIVITY = ("identity.", "customer.", "relationship.", "email.sent", "sms.sent")
EMAIL = frozenset({"email"})
PHONE = frozenset({"sms", "phone"})
MAIL = frozenset({"mail"})


def noted(state: CustomerState, event: Touchpoint, offset: int | None) -> CustomerState:
    """What every event tells, in one new state: that it was seen (and its offset), the
    customer's latest activity, the channels its subject can be reached on."""
    at, message_id = event.occurred_at, event.message_id
    last, last_id = state.last_activity, state.last_activity_id
    if (last is None or at >= last) and not event.type.startswith(NOT_ACTIVITY):
        last, last_id = at, message_id
    reachable = state.reachable
    if event.subject.email and "email" not in reachable:
        reachable |= EMAIL
    if event.subject.phone and not reachable >= PHONE:
        reachable |= PHONE
    return state.evolve(
        recent_ids=remembered_ids(state.recent_ids, message_id),
        last_offset=state.last_offset if offset is None else offset,
        last_activity=last,
        last_activity_id=last_id,
        reachable=reachable,
    )


def _purchase(state: CustomerState, event: PurchaseCompleted) -> CustomerState:
    bought = dict(state.bought)
    for line in event.payload.lines:
        previous = bought.get(line.category)
        if previous is None or event.occurred_at > previous:
            bought[line.category] = event.occurred_at
    return state.evolve(
        purchases=state.purchases + 1,
        spend=state.spend + float(event.payload.total),
        bought=bought,
    )


def _refund(state: CustomerState, event: RefundIssued) -> CustomerState:
    return state.evolve(spend=state.spend - float(event.payload.amount))


def _consent(state: CustomerState, event: ConsentChanged) -> CustomerState:
    p = event.payload
    key = f"{p.purpose}|{p.channel or '*'}"
    known = state.consents.get(key)
    if known is not None and event.occurred_at < known.at:
        return state  # an older change, read late
    consent = Consent(str(p.status), event.occurred_at, p.expires_at)
    return state.evolve(consents={**state.consents, key: consent})


def _profile(state: CustomerState, event: ProfileUpdated) -> CustomerState:
    p = event.payload
    reachable = state.reachable
    if p.emails:
        reachable |= EMAIL
    if p.phones:
        reachable |= PHONE
    if p.addresses:
        reachable |= MAIL
    preferred = str(p.preferred_channel) if p.preferred_channel else state.preferred_channel
    return state.evolve(reachable=reachable, preferred_channel=preferred)


def _complaint_opened(state: CustomerState, event: ComplaintOpened) -> CustomerState:
    p = event.payload
    opened = Complaint(event.occurred_at, str(p.severity), p.category, event.message_id)
    return state.evolve(complaints={**state.complaints, p.case_id: opened})


def _complaint_resolved(state: CustomerState, event: ComplaintResolved) -> CustomerState:
    if event.payload.case_id not in state.complaints:
        return state
    still_open = {k: c for k, c in state.complaints.items() if k != event.payload.case_id}
    return state.evolve(complaints=still_open)


def _fact(event: type[E], fold: Callable[[CustomerState, E], CustomerState]) -> Watch[E]:
    return Watch(event, lambda state, e: (fold(state, e), ()))


FACTS: tuple[Watch[Any], ...] = (
    _fact(PurchaseCompleted, _purchase),
    _fact(RefundIssued, _refund),
    _fact(ConsentChanged, _consent),
    _fact(ProfileUpdated, _profile),
    _fact(ComplaintOpened, _complaint_opened),
    _fact(ComplaintResolved, _complaint_resolved),
)
