"""Every field of the customer profile: its section, its sensitivity tier, how it is read.

A field's tier is the most sensitive tier of the payload fields its value comes from, as
tagged in the event schemas (``events.sensitivity``); a value computed from envelope
metadata (when, on which channel) or aggregated across events states its tier explicitly.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
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
    WarrantyRegisteredPayload,
)
from projections.profile import segments
from projections.profile.facts import TWO_PLACES
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


Reader = Callable[[ProfileState], Any]
AtTime = Callable[[Any, ProfileState, datetime], Any]


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


def _latest(kind: str) -> Reader:
    return lambda state: state.value_of(kind)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(TWO_PLACES))


def _days(since: datetime | None, moment: datetime) -> int | None:
    return None if since is None else max((moment - since).days, 0)


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


P = ProfileUpdatedPayload
PURCHASE = PurchaseCompletedPayload


def _last_purchase(state: ProfileState) -> dict[str, Any] | None:
    last = state.purchases.last
    if last is None:
        return None
    value = last.value
    return {
        "order_id": last.key,
        "at": last.occurred_at.isoformat(),
        "total": value["total"],
        "currency": value["currency"],
    }


def _observed_channel(state: ProfileState) -> str | None:
    if not state.inbound:
        return None
    # Most used; on a tie, the one used last; then by name, so any fold order agrees.
    return max(state.inbound, key=lambda ch: (state.inbound[ch], state.last_inbound[ch], ch))


def _open_complaints(state: ProfileState) -> list[dict[str, Any]]:
    cases = [c for c in state.complaints.values() if c.open and c.opened_at is not None]
    return [
        {
            "case_id": c.case_id,
            "category": c.category,
            "severity": c.severity,
            "opened_at": c.opened_at.isoformat() if c.opened_at else None,
            "status": c.status,
            "escalated_to": c.escalated_to,
        }
        for c in sorted(cases, key=lambda c: (c.opened_at, c.case_id))
    ]


def _with_age(value: list[dict[str, Any]], _: ProfileState, moment: datetime) -> Any:
    return [
        {**case, "age_days": _days(datetime.fromisoformat(case["opened_at"]), moment)}
        for case in value
    ]


def _consents(state: ProfileState) -> dict[str, dict[str, Any]]:
    return {
        key: {**fact.value, "at": fact.occurred_at.isoformat()}
        for key, fact in sorted(state.consents.items())
    }


def _with_expiry(value: dict[str, dict[str, Any]], _: ProfileState, moment: datetime) -> Any:
    return {
        key: {
            **consent,
            "expired": consent["expires_at"] is not None
            and datetime.fromisoformat(consent["expires_at"]) <= moment,
        }
        for key, consent in value.items()
    }


def _next_service_due(state: ProfileState) -> list[dict[str, Any]]:
    due = [
        {
            "due_on": s["next_due_on"],
            "service_type": s["service_type"],
            "product_sku": s["product_sku"],
            "serial_number": s["serial_number"],
        }
        for key, s in sorted(state.services.items())
        if s["next_due_on"] is not None
    ]
    return sorted(due, key=lambda d: d["due_on"])


def _warranties(state: ProfileState) -> list[dict[str, Any]]:
    listed = []
    for _, w in sorted(state.warranties.items()):
        bought = date.fromisoformat(w["purchase_date"])
        months = bought.month - 1 + w["warranty_months"]
        year, month = bought.year + months // 12, months % 12 + 1
        expires = date(year, month, min(bought.day, calendar.monthrange(year, month)[1]))
        listed.append({**w, "expires_on": expires.isoformat()})
    return listed


def _age(_: Any, state: ProfileState, moment: datetime) -> int | None:
    born = state.value_of("date_of_birth")
    return None if born is None else _years(date.fromisoformat(born), moment.date())


def _cooperativeness(state: ProfileState) -> dict[str, Any] | None:
    if not state.surveys:
        return None
    return {
        "surveys_answered": len(state.surveys),
        "last_answered": max(state.surveys.values()).isoformat(),
    }


FIELDS: tuple[ProfileField, ...] = (
    # --- essential: who they are, how to reach them ----------------------------------
    _field(
        "name",
        "name",
        _latest("name"),
        (P, "name.given_name"),
        (P, "name.middle_names"),
        (P, "name.family_name"),
        (P, "name.suffix"),
    ),
    _field("title", "title", _latest("title"), (P, "name.title")),
    _field("pronunciation", "pronunciation", _latest("pronunciation"), (P, "name.pronunciation")),
    _field("addresses", "addresses", _latest("addresses"), (P, "addresses")),
    _field("phones", "phones", _latest("phones"), (P, "phones")),
    _field("emails", "emails", _latest("emails"), (P, "emails")),
    _field(
        "preferred_channel_declared",
        "preferred_channel",
        _latest("preferred_channel"),
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
        at=lambda _, s, moment: _days(s.first_contact, moment),
        time_only=True,
    ),
    _field("orders", "purchase", lambda s: s.purchases.count, tier=Tier.SERVICE),
    _field(
        "lifetime_spend",
        "purchase",
        lambda s: {
            cur: _money(total) for cur, (_, total) in sorted(s.purchases.by_currency.items())
        },
        (PURCHASE, "total"),
        (PURCHASE, "currency"),
    ),
    _field(
        "average_order",
        "purchase",
        lambda s: {
            cur: _money(total / orders)
            for cur, (orders, total) in sorted(s.purchases.by_currency.items())
        },
        tier=Tier.SERVICE,
    ),
    _field(
        "last_purchase",
        "purchase",
        _last_purchase,
        (PURCHASE, "order_id"),
        (PURCHASE, "total"),
        (PURCHASE, "currency"),
    ),
    _field(
        "refunded",
        "refund",
        lambda s: {cur: _money(amount) for cur, amount in sorted(s.refunded.items())},
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
        _latest("preferred_payment_method"),
        (P, "preferred_payment_method"),
    ),
    _field(
        "dispatch_instructions",
        "dispatch_instructions",
        _latest("dispatch_instructions"),
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
    _field("preferred_channel_observed", "contact", _observed_channel, tier=Tier.SERVICE),
    _field(
        "open_complaints",
        "complaint",
        _open_complaints,
        (ComplaintOpenedPayload, "case_id"),
        (ComplaintOpenedPayload, "category"),
        (ComplaintOpenedPayload, "severity"),
        (ComplaintUpdatedPayload, "status"),
        (ComplaintEscalatedPayload, "to_level"),
        at=_with_age,
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
            _money(s.satisfaction_sum / s.satisfaction_count) if s.satisfaction_count else None
        ),
        tier=Tier.SERVICE,
    ),
    _field("nps", "nps", _latest("nps"), (SurveyRespondedPayload, "nps")),
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
        _warranties,
        *(
            (WarrantyRegisteredPayload, name)
            for name in (
                "warranty_id",
                "product_sku",
                "product_name",
                "serial_number",
                "purchase_date",
                "warranty_months",
                "extended",
            )
        ),
    ),
    _field(
        "next_service_due",
        "service",
        _next_service_due,
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
    _field("date_of_birth", "date_of_birth", _latest("date_of_birth"), (P, "date_of_birth")),
    _field("age", "date_of_birth", lambda s: None, (P, "date_of_birth"), at=_age, time_only=True),
    _field("age_band", "age_band", _latest("age_band"), (SurveyRespondedPayload, "age_band")),
    _field("income_band", "income_band", _latest("income_band"), (P, "income_band")),
    _field(
        "household",
        "household",
        _latest("household"),
        (P, "household"),
        (P, "household.adults"),
        (P, "household.children"),
        (P, "household.marital_status"),
    ),
    _field("education", "education", _latest("education"), (P, "education")),
    _field("survey_cooperativeness", "survey", _cooperativeness, tier=Tier.RESTRICTED),
    _field(
        "accessibility_needs",
        "accessibility_needs",
        _latest("accessibility_needs"),
        (BookingMadePayload, "accessibility_needs"),
    ),
    # --- consents: what they allow us to do --------------------------------------------
    _field(
        "consents",
        "consent",
        _consents,
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
        at=_with_expiry,
        section=Section.CONSENTS,
    ),
)

BY_NAME: dict[str, ProfileField] = {f.name: f for f in FIELDS}


def field_named(name: str) -> ProfileField | None:
    """A field by its name, or a singular of it (``address`` for ``addresses``)."""
    return BY_NAME.get(name) or BY_NAME.get(f"{name}s") or BY_NAME.get(f"{name}es")
