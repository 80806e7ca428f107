"""What the metrics need from one event, read once: a ``Fact`` (pure, no state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from events import Touchpoint
from events.resolved import Resolved
from events.sensitivity import is_erased
from events.touchpoints import (
    CallLogged,
    CampaignResponded,
    ComplaintEscalated,
    ComplaintOpened,
    ComplaintResolved,
    ComplaintUpdated,
    FeedbackGiven,
    InterestDeclared,
    ProductViewed,
    ProfileUpdated,
    PurchaseCompleted,
    SurveyResponded,
    WebPageViewed,
)

NOT_CONTACTS = ("identity.", "customer.", "relationship.")
"""Decisions about identities, not interactions with a customer: no metric counts them."""

LOW_RATING = 2
"""A survey answer or a review rated at most this (of 5) names a problem."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One event as the metrics see it."""

    source_system: str
    message_id: str
    customer_id: str
    occurred_at: datetime
    type: str
    business_unit: str
    channel: str
    revenue: Decimal | None = None
    """A purchase's total."""
    bought: tuple[str, ...] = ()
    """Categories of a purchase's lines."""
    case_id: str | None = None
    ratings: tuple[int, ...] = ()
    nps: int | None = None
    low_topics: tuple[str, ...] = ()
    """Topics or products rated low (a survey's questions, a review's topic)."""
    rated_topics: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    """Categories declared, or shown by viewing a product."""
    responses: tuple[tuple[str, str], ...] = ()
    """(kind, key) of the campaign it answers: code, reference, phone_line, landing_url."""
    staff: tuple[str, str] | None = None
    """("agent" | "store", id) when the event names who served the customer."""
    age_band: str | None = None
    income_band: str | None = None

    @property
    def day(self) -> date:
        return self.occurred_at.date()

    def identity(self) -> tuple[str, str]:
        return (self.source_system, self.message_id)


def age_band(born: date, on: date) -> str:
    """The survey's bands (``events.touchpoints.feedback.AgeBand``) for a date of birth."""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for upper, band in ((18, "under_18"), (25, "18_24"), (35, "25_34"), (50, "35_49")):
        if age < upper:
            return band
    return "50_64" if age < 65 else "65_plus"


def _responses(event: Touchpoint) -> tuple[tuple[str, str | None], ...]:
    """The campaign an event answers, by each of the ways a response is traced: the
    campaign code, the mailer's reference, the campaign phone line, the landing page."""
    if isinstance(event, CampaignResponded):
        p = event.payload
        return (
            ("code", p.campaign_code),
            ("reference", p.reference_number),
            ("phone_line", p.campaign_phone_number),
            ("landing_url", p.landing_url.split("?", 1)[0] if p.landing_url else None),
        )
    campaign = event.campaign
    if campaign is None:
        return ()
    found: list[tuple[str, str | None]] = [
        ("code", campaign.code),
        ("reference", campaign.reference),
    ]
    if isinstance(event, CallLogged):
        found.append(("phone_line", event.payload.dialled_number))
    if isinstance(event, WebPageViewed):
        found.append(("landing_url", event.payload.url.split("?", 1)[0]))
    return tuple(found)


def _details(event: Touchpoint) -> dict[str, object]:  # one case per type
    if isinstance(event, PurchaseCompleted):
        order = event.payload
        staff = ("store", order.store_id) if order.store_id else None
        cats = tuple(dict.fromkeys(line.category for line in order.lines))
        return {"revenue": order.total, "bought": cats, "staff": staff}
    if isinstance(event, ComplaintOpened | ComplaintUpdated | ComplaintEscalated):
        return {"case_id": event.payload.case_id}
    if isinstance(event, ComplaintResolved):
        return {"case_id": event.payload.case_id, "staff": ("agent", event.payload.resolved_by)}
    if isinstance(event, SurveyResponded):
        survey = event.payload
        # An erased field ("[erased]": its key shredded) counts as not given.
        answers = () if is_erased(survey.answers) else survey.answers
        band = None if is_erased(survey.age_band) else survey.age_band
        return {
            "ratings": tuple(a.rating for a in answers),
            "nps": survey.nps,
            "rated_topics": tuple(a.question for a in answers),
            "low_topics": tuple(a.question for a in answers if a.rating <= LOW_RATING),
            "age_band": band.value if band else None,
        }
    if isinstance(event, FeedbackGiven):
        rating = event.payload.rating
        low = rating is not None and rating <= LOW_RATING
        topic = (event.payload.topic,)
        return {"rated_topics": topic if rating else (), "low_topics": topic if low else ()}
    if isinstance(event, InterestDeclared):
        return {"interests": tuple(event.payload.categories)}
    if isinstance(event, ProductViewed):
        return {"interests": (event.payload.category,)}
    if isinstance(event, ProfileUpdated):
        update = event.payload
        born = None if is_erased(update.date_of_birth) else update.date_of_birth
        born_band = age_band(born, event.occurred_at.date()) if born else None
        earns = None if is_erased(update.income_band) else update.income_band
        income = earns.value if earns else None
        return {"age_band": born_band, "income_band": income}
    if isinstance(event, CallLogged) and event.payload.agent_id:
        return {"staff": ("agent", event.payload.agent_id)}
    return {}


def fact_of(item: Touchpoint | Resolved) -> Fact | None:
    """The event's fact, or None for an event no metric counts."""
    if isinstance(item, Resolved):
        event, customer_id = item.event, item.customer_id
    else:
        event, customer_id = item, item.subject.customer_id or item.subject.key()
    if event.type.startswith(NOT_CONTACTS):
        return None
    details = _details(event)
    return Fact(
        source_system=event.source.system,
        message_id=event.message_id,
        customer_id=customer_id,
        occurred_at=event.occurred_at,
        type=event.type,
        business_unit=event.source.business_unit,
        channel=event.source.channel.value,
        responses=tuple((kind, key) for kind, key in _responses(event) if key),
        **details,  # type: ignore[arg-type]
    )
