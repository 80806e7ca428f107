"""The profile projection: what each event says about its customer, as history rows.

A ``Fact`` is one attribute value with the event that stated it and when it became
true (the event's ``occurred_at``). Facts are only ever added: a newer value does not
overwrite an older one, it is another fact. The profile *as of* T is the fold of the
customer's facts with ``occurred_at ≤ T`` (``projections.profile.state``), so a late or
out-of-order event lands in its place in history.

Extraction is dispatched by event type through ``EXTRACTORS``, an explicit registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from events import Touchpoint
from events.resolved import Resolved
from events.sensitivity import ERASED, is_erased
from events.touchpoints import (
    BookingMade,
    CallDirection,
    CallLogged,
    CampaignResponded,
    ChatTranscriptRecorded,
    ComplaintEscalated,
    ComplaintOpened,
    ComplaintResolved,
    ComplaintUpdated,
    ConsentChanged,
    FeedbackGiven,
    InterestDeclared,
    ProfileUpdated,
    PurchaseCompleted,
    RefundIssued,
    RewardsEarned,
    RewardsRedeemed,
    ServiceCompleted,
    SurveyResponded,
    VerificationSet,
    WarrantyRegistered,
)
from events.touchpoints.identity import TYPES as IDENTITY_TYPES
from events.touchpoints.relationship import TYPES as RELATIONSHIP_TYPES
from projections.view import project_batch

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Fact:
    """One attribute value of one customer, as one event stated it."""

    customer_id: str
    kind: str
    """What the value is about: ``name``, ``addresses``, ``purchase``, ``consent``, …"""
    key: str
    """Which one, for kinds held per item (a consent's purpose/channel, an order id); ''."""
    occurred_at: datetime
    source_system: str
    message_id: str
    event_type: str
    value: Any
    """JSON-ready: str, int, bool, None, lists and dicts of those (amounts as strings)."""

    def identity(self) -> tuple[str, str, str, datetime, str, str]:
        """The row's identity: applying the same event twice yields the same identity."""
        return (
            self.customer_id,
            self.kind,
            self.key,
            self.occurred_at,
            self.source_system,
            self.message_id,
        )

    def order(self) -> tuple[datetime, str, str, str, str]:
        """Position in the customer's history: event time, then a deterministic tie-break."""
        return (self.occurred_at, self.source_system, self.message_id, self.kind, self.key)

    def value_json(self) -> str:
        return json.dumps(self.value, separators=(",", ":"), sort_keys=True)


Stated = tuple[str, str, Any]  # (kind, key, value)

# Touchpoints we initiate: they are contacts, but not the customer choosing a channel.
OUTBOUND_TYPES = frozenset({"email.sent", "sms.sent"})

# The identity graph's bookkeeping says nothing about the customer's profile, nor who owns
# the relationship (the staff's own doing, not a contact: ``api.ownership`` reads it).
NOT_IN_PROFILE = frozenset(cls.type_name() for cls in (*IDENTITY_TYPES, *RELATIONSHIP_TYPES))


def _inbound(event: Touchpoint) -> bool:
    if isinstance(event, CallLogged):
        return event.payload.direction is CallDirection.INBOUND
    return event.type not in OUTBOUND_TYPES


DECLARED_LISTS = ("addresses", "phones", "emails")
DECLARED_VALUES = (
    "preferred_channel",
    "preferred_payment_method",
    "dispatch_instructions",
    "date_of_birth",
    "income_band",
    "household",
    "education",
)
"""What ``profile.updated`` states besides the name, each a fact kind of the same name."""

WARRANTY_FIELDS = (
    "warranty_id",
    "product_sku",
    "product_name",
    "serial_number",
    "purchase_date",
    "warranty_months",
    "extended",
)
"""What a ``warranty`` fact keeps of a ``warranty.registered`` payload."""


def _contact(event: Touchpoint) -> list[Stated]:
    """Every touchpoint is a contact on its channel (customer since, last contact)."""
    return [("contact", event.source.channel.value, {"inbound": _inbound(event)})]


def _profile_updated(event: ProfileUpdated) -> list[Stated]:
    p = event.payload
    stated: list[Stated] = []
    # An erased field (its key shredded): the name reads "[erased]"; the others state nothing.
    if is_erased(p.name):
        erased: dict[str, str | None] = dict.fromkeys(("given_name", "family_name"), ERASED)
        stated.append(("name", "", {**erased, "middle_names": None, "suffix": None}))
    elif p.name is not None:
        name = p.name.model_dump(mode="json", include={"given_name", "middle_names", "family_name"})
        name["suffix"] = p.name.suffix
        stated += [
            ("name", "", name),
            ("title", "", p.name.title.value if p.name.title else None),
            ("pronunciation", "", p.name.pronunciation),
        ]
    for field in DECLARED_LISTS:
        items = getattr(p, field)
        if items is not None and not is_erased(items):
            stated.append((field, "", [item.model_dump(mode="json") for item in items]))
    for field in DECLARED_VALUES:
        value = getattr(p, field)
        if is_erased(value) and field == "dispatch_instructions":
            stated.append((field, "", ERASED))
        elif value is not None and not is_erased(value):
            dumped = p.model_dump(mode="json", include={field})[field]
            stated.append((field, "", dumped))
    return stated


def _verification_set(event: VerificationSet) -> list[Stated]:
    return [("verification", "", event.payload.model_dump(mode="json", warnings=False))]


def _consent_changed(event: ConsentChanged) -> list[Stated]:
    p = event.payload
    key = f"{p.purpose.value}/{p.channel.value if p.channel else '*'}"
    value = p.model_dump(mode="json")
    value["source_system"] = event.source.system
    value["business_unit"] = event.source.business_unit
    return [("consent", key, value)]


def _purchase(event: PurchaseCompleted) -> list[Stated]:
    p = event.payload
    return [
        (
            "purchase",
            p.order_id,
            {
                "total": str(p.total.quantize(TWO_PLACES)),
                "currency": p.currency,
                "payment_method": p.payment_method.value,
                "lines": [
                    {"sku": line.sku, "name": line.name, "category": line.category}
                    for line in p.lines
                ],
            },
        )
    ]


def _refund(event: RefundIssued) -> list[Stated]:
    p = event.payload
    return [
        (
            "refund",
            p.refund_id,
            {"amount": str(p.amount.quantize(TWO_PLACES)), "currency": p.currency},
        )
    ]


def _complaint_opened(event: ComplaintOpened) -> list[Stated]:
    p = event.payload
    value = {"event": "opened", "category": p.category, "severity": p.severity.value}
    return [("complaint", p.case_id, value)]


def _complaint_updated(event: ComplaintUpdated) -> list[Stated]:
    value = {"event": "updated", "status": event.payload.status.value}
    return [("complaint", event.payload.case_id, value)]


def _complaint_escalated(event: ComplaintEscalated) -> list[Stated]:
    value = {"event": "escalated", "level": event.payload.to_level.value}
    return [("complaint", event.payload.case_id, value)]


def _complaint_resolved(event: ComplaintResolved) -> list[Stated]:
    return [("complaint", event.payload.case_id, {"event": "resolved"})]


def mean_rating(ratings: Iterable[int]) -> str:
    values = list(ratings)
    return str((Decimal(sum(values)) / len(values)).quantize(TWO_PLACES))


def _survey(event: SurveyResponded) -> list[Stated]:
    p = event.payload
    stated: list[Stated] = [("survey", p.survey_id, {"survey_name": p.survey_name})]
    if p.answers and not is_erased(p.answers):
        stated.append(("satisfaction", "", mean_rating(a.rating for a in p.answers)))
    if p.nps is not None:
        stated.append(("nps", "", p.nps))
    if p.age_band is not None and not is_erased(p.age_band):
        stated.append(("age_band", "", p.age_band.value))
    return stated


def _rated(rating: int | None) -> list[Stated]:
    return [] if rating is None else [("satisfaction", "", mean_rating([rating]))]


def _feedback(event: FeedbackGiven) -> list[Stated]:
    return _rated(event.payload.rating)


def _chat(event: ChatTranscriptRecorded) -> list[Stated]:
    return _rated(event.payload.rating)


def _rewards_earned(event: RewardsEarned) -> list[Stated]:
    p = event.payload
    return [("rewards", p.programme, {"delta": p.points, "balance_after": p.balance_after})]


def _rewards_redeemed(event: RewardsRedeemed) -> list[Stated]:
    p = event.payload
    return [("rewards", p.programme, {"delta": -p.points, "balance_after": p.balance_after})]


def _warranty(event: WarrantyRegistered) -> list[Stated]:
    p = event.payload
    return [("warranty", p.warranty_id, p.model_dump(mode="json", include=set(WARRANTY_FIELDS)))]


def _service(event: ServiceCompleted) -> list[Stated]:
    p = event.payload
    key = p.serial_number or p.product_sku or p.service_type
    value = p.model_dump(
        mode="json",
        include={"service_type", "product_sku", "serial_number", "completed_on", "next_due_on"},
    )
    return [("service", key, value)]


def _campaign(event: CampaignResponded) -> list[Stated]:
    p = event.payload
    return [("campaign", p.campaign_code, {"response": p.response.value})]


def _interests(event: InterestDeclared) -> list[Stated]:
    return [("interests", "", sorted(set(event.payload.categories)))]


def _booking(event: BookingMade) -> list[Stated]:
    needs = event.payload.accessibility_needs
    return [] if needs is None else [("accessibility_needs", "", needs)]


Extractor = Callable[[Any], list[Stated]]

EXTRACTORS: dict[str, Extractor] = {
    cls.type_name(): extract
    for cls, extract in (
        (ProfileUpdated, _profile_updated),
        (ConsentChanged, _consent_changed),
        (VerificationSet, _verification_set),
        (PurchaseCompleted, _purchase),
        (RefundIssued, _refund),
        (ComplaintOpened, _complaint_opened),
        (ComplaintUpdated, _complaint_updated),
        (ComplaintEscalated, _complaint_escalated),
        (ComplaintResolved, _complaint_resolved),
        (SurveyResponded, _survey),
        (FeedbackGiven, _feedback),
        (ChatTranscriptRecorded, _chat),
        (RewardsEarned, _rewards_earned),
        (RewardsRedeemed, _rewards_redeemed),
        (WarrantyRegistered, _warranty),
        (ServiceCompleted, _service),
        (CampaignResponded, _campaign),
        (InterestDeclared, _interests),
        (BookingMade, _booking),
    )
}
"""Event type → what it states beyond being a contact. Types not listed are contacts only."""


def project(event: Touchpoint, customer_id: str | None = None) -> list[Fact]:
    """The facts one event states about its customer (its resolved one, else its best
    identifier, as the timeline does)."""
    if event.type in NOT_IN_PROFILE:
        return []
    extract = EXTRACTORS.get(event.type)
    stated = _contact(event) + (extract(event) if extract else [])
    subject = customer_id or event.subject.key()
    return [
        Fact(
            subject,
            kind,
            key,
            event.occurred_at,
            event.source.system,
            event.message_id,
            event.type,
            value,
        )
        for kind, key, value in stated
    ]


def project_all(events: Iterable[Touchpoint | Resolved]) -> list[Fact]:
    """Facts of a batch, each identity once (a batch may hold a re-published event)."""
    return project_batch(events, project)
