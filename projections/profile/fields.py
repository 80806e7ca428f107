"""Every field of the customer profile: its section, its sensitivity tier, how it is read.

A field's tier is the most sensitive tier of the payload fields its value comes from, as
tagged in the event schemas (``events.sensitivity``); a value computed from envelope
metadata (when, on which channel) or aggregated across events states its tier explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from events import Tier, field_tiers
from events.touchpoints import (
    BookingMadePayload,
    CampaignRespondedPayload,
    ChatTranscriptRecordedPayload,
    ComplaintEscalatedPayload,
    ComplaintOpenedPayload,
    ComplaintUpdatedPayload,
    ConsentChangedPayload,
    FeedbackGivenPayload,
    InterestDeclaredPayload,
    ProfileUpdatedPayload,
    PurchaseCompletedPayload,
    RefundIssuedPayload,
    RewardsEarnedPayload,
    RewardsRedeemedPayload,
    ServiceCompletedPayload,
    SurveyRespondedPayload,
    VerificationSetPayload,
    WarrantyRegisteredPayload,
)
from projections.profile import readers as read
from projections.profile import segments
from projections.profile.facts import DECLARED_LISTS, WARRANTY_FIELDS
from projections.profile.readers import AtTime, Reader
from projections.profile.state import ProfileState

RANK = {Tier.ESSENTIAL: 0, Tier.SERVICE: 1, Tier.RESTRICTED: 2}


class Section(StrEnum):
    ESSENTIAL = "essential"
    SERVICE = "service"
    RESTRICTED = "restricted"
    CONSENTS = "consents"


Source = tuple[type[BaseModel], str]


def tier_from(*sources: Source) -> Tier:
    """The most sensitive tier among the payload fields (dotted paths) a value comes from."""
    tiers = []
    for model, path in sources:
        tier = field_tiers(model).get(path)
        if tier is None:
            raise ValueError(f"{model.__name__}.{path} carries no sensitivity tier")
        tiers.append(tier)
    return max(tiers, key=RANK.__getitem__)


@dataclass(frozen=True, slots=True)
class ProfileField:
    name: str
    tier: Tier
    kinds: frozenset[str]
    """The fact kinds the value is read from."""
    read: Reader
    at: AtTime | None = None
    """Completes the value for a moment (an age, whether a consent has expired)."""
    time_only: bool = False
    """Changes with time alone (tenure): read at a moment, it has no history of values."""
    section: Section | None = None
    sources: tuple[Source, ...] = ()

    @property
    def in_section(self) -> Section:
        return self.section or Section(self.tier.value)

    def value(self, state: ProfileState, moment: datetime) -> Any:
        value = self.read(state)
        return self.at(value, state, moment) if self.at is not None else value


def _field(
    name: str,
    kinds: str | set[str],
    read: Reader,
    *sources: Source,
    tier: Tier | None = None,
    **kwargs: Any,
) -> ProfileField:
    if (tier is None) != bool(sources):
        raise ValueError(f"{name}: give payload sources or an explicit tier, one of them")
    return ProfileField(
        name,
        tier or tier_from(*sources),
        frozenset({kinds} if isinstance(kinds, str) else kinds),
        read,
        sources=sources,
        **kwargs,
    )


P = ProfileUpdatedPayload
PURCHASE = PurchaseCompletedPayload


def _declared(name: str, *parts: str) -> ProfileField:
    """A field ``profile.updated`` states under its own name (``parts``: its sub-fields):
    the latest value stated."""
    return _field(name, name, read.latest(name), *((P, path) for path in (name, *parts)))


FIELDS: tuple[ProfileField, ...] = (
    # --- essential: who they are, how to reach them ----------------------------------
    _field(
        "name",
        "name",
        read.latest("name"),
        (P, "name.given_name"),
        (P, "name.middle_names"),
        (P, "name.family_name"),
        (P, "name.suffix"),
    ),
    _field("title", "title", read.latest("title"), (P, "name.title")),
    _field(
        "pronunciation", "pronunciation", read.latest("pronunciation"), (P, "name.pronunciation")
    ),
    *(_declared(name) for name in DECLARED_LISTS),
    _field(
        "preferred_channel_declared",
        "preferred_channel",
        read.latest("preferred_channel"),
        (P, "preferred_channel"),
    ),
    # --- service: the relationship -----------------------------------------------------
    _field(
        "customer_since",
        "contact",
        lambda s: s.first_contact.isoformat() if s.first_contact else None,
        tier=Tier.SERVICE,
    ),
    _field(
        "tenure_days",
        "contact",
        lambda s: None,
        tier=Tier.SERVICE,
        at=lambda _, s, moment: read.days(s.first_contact, moment),
        time_only=True,
    ),
    _field("orders", "purchase", lambda s: s.purchases.count, tier=Tier.SERVICE),
    _field(
        "lifetime_spend",
        "purchase",
        lambda s: {
            cur: read.money(total) for cur, (_, total) in sorted(s.purchases.by_currency.items())
        },
        (PURCHASE, "total"),
        (PURCHASE, "currency"),
    ),
    _field(
        "average_order",
        "purchase",
        lambda s: {
            cur: read.money(total / orders)
            for cur, (orders, total) in sorted(s.purchases.by_currency.items())
        },
        tier=Tier.SERVICE,
    ),
    _field(
        "last_purchase",
        "purchase",
        read.last_purchase,
        (PURCHASE, "order_id"),
        (PURCHASE, "total"),
        (PURCHASE, "currency"),
    ),
    _field(
        "refunded",
        "refund",
        lambda s: {cur: read.money(amount) for cur, amount in sorted(s.refunded.items())},
        (RefundIssuedPayload, "amount"),
        (RefundIssuedPayload, "currency"),
    ),
    _field(
        "categories_bought",
        "purchase",
        lambda s: sorted(s.purchases.categories),
        (PURCHASE, "lines.category"),
    ),
    _field(
        "products_bought",
        "purchase",
        lambda s: [{"sku": k, "name": v} for k, v in sorted(s.purchases.products.items())],
        (PURCHASE, "lines.sku"),
        (PURCHASE, "lines.name"),
    ),
    _field(
        "payment_methods",
        "purchase",
        lambda s: sorted(s.purchases.methods),
        (PURCHASE, "payment_method"),
    ),
    _field(
        "preferred_payment_method",
        "preferred_payment_method",
        read.latest("preferred_payment_method"),
        (P, "preferred_payment_method"),
    ),
    _field(
        "dispatch_instructions",
        "dispatch_instructions",
        read.latest("dispatch_instructions"),
        (P, "dispatch_instructions"),
    ),
    _field(
        "last_contact",
        "contact",
        lambda s: {
            channel: {"at": fact.occurred_at.isoformat(), "type": fact.event_type}
            for channel, fact in sorted(s.last_contact.items())
        },
        tier=Tier.SERVICE,
    ),
    _field("preferred_channel_observed", "contact", read.observed_channel, tier=Tier.SERVICE),
    _field(
        "open_complaints",
        "complaint",
        read.open_complaints,
        (ComplaintOpenedPayload, "case_id"),
        (ComplaintOpenedPayload, "category"),
        (ComplaintOpenedPayload, "severity"),
        (ComplaintUpdatedPayload, "status"),
        (ComplaintEscalatedPayload, "to_level"),
        at=read.with_age,
    ),
    _field(
        "satisfaction_last",
        "satisfaction",
        lambda s: s.satisfaction_last,
        (SurveyRespondedPayload, "answers.rating"),
        (FeedbackGivenPayload, "rating"),
        (ChatTranscriptRecordedPayload, "rating"),
    ),
    _field(
        "satisfaction_average",
        "satisfaction",
        lambda s: (
            read.money(s.satisfaction_sum / s.satisfaction_count) if s.satisfaction_count else None
        ),
        tier=Tier.SERVICE,
    ),
    _field("nps", "nps", read.latest("nps"), (SurveyRespondedPayload, "nps")),
    _field(
        "rewards_balance",
        "rewards",
        lambda s: dict(sorted(s.rewards.items())),
        (RewardsEarnedPayload, "points"),
        (RewardsEarnedPayload, "balance_after"),
        (RewardsRedeemedPayload, "points"),
        (RewardsRedeemedPayload, "balance_after"),
    ),
    _field(
        "warranties",
        "warranty",
        read.warranties,
        *((WarrantyRegisteredPayload, name) for name in WARRANTY_FIELDS),
    ),
    _field(
        "next_service_due",
        "service",
        read.next_service_due,
        (ServiceCompletedPayload, "next_due_on"),
        (ServiceCompletedPayload, "service_type"),
        (ServiceCompletedPayload, "product_sku"),
        (ServiceCompletedPayload, "serial_number"),
    ),
    _field(
        "campaigns_responded",
        "campaign",
        lambda s: [
            {
                "campaign_code": code,
                "response": f.value["response"],
                "at": f.occurred_at.isoformat(),
            }
            for code, f in sorted(s.campaigns.items())
        ],
        (CampaignRespondedPayload, "campaign_code"),
        (CampaignRespondedPayload, "response"),
    ),
    _field(
        "interests",
        "interests",
        lambda s: sorted(s.interests),
        (InterestDeclaredPayload, "categories"),
    ),
    _field(
        "segments",
        {"contact", "purchase", "complaint", "nps", "rewards"},
        lambda s: None,
        tier=Tier.SERVICE,
        at=lambda _, s, moment: segments.of(s, moment),
        time_only=True,
    ),
    # --- restricted: personal circumstances -------------------------------------------
    _declared("date_of_birth"),
    _field(
        "age", "date_of_birth", lambda s: None, (P, "date_of_birth"), at=read.age, time_only=True
    ),
    _field("age_band", "age_band", read.latest("age_band"), (SurveyRespondedPayload, "age_band")),
    _declared("income_band"),
    _declared("household", "household.adults", "household.children", "household.marital_status"),
    _declared("education"),
    _field(
        "verification",
        "verification",
        read.verification,
        (VerificationSetPayload, "kind"),
        (VerificationSetPayload, "answer_hash"),
    ),
    _field("survey_cooperativeness", "survey", read.cooperativeness, tier=Tier.RESTRICTED),
    _field(
        "accessibility_needs",
        "accessibility_needs",
        read.latest("accessibility_needs"),
        (BookingMadePayload, "accessibility_needs"),
    ),
    # --- consents: what they allow us to do --------------------------------------------
    _field(
        "consents",
        "consent",
        read.consents,
        *(
            (ConsentChangedPayload, name)
            for name in (
                "purpose",
                "channel",
                "status",
                "legal_basis",
                "captured_via",
                "proof_reference",
                "expires_at",
            )
        ),
        at=read.with_expiry,
        section=Section.CONSENTS,
    ),
)

BY_NAME: dict[str, ProfileField] = {f.name: f for f in FIELDS}


def field_named(name: str) -> ProfileField | None:
    """A field by its name, or a singular of it (``address`` for ``addresses``)."""
    return BY_NAME.get(name) or BY_NAME.get(f"{name}s") or BY_NAME.get(f"{name}es")
