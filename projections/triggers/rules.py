"""Trigger rules, from a YAML file validated at start (``TOUCHLOG_TRIGGER_RULES``).

Each rule has a unique ``name`` (it goes into every trigger id) and a ``type``
naming what it watches; the other keys are that type's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from events.documents import DocumentError, named_problems
from projections.triggers.model import Kind, RuleName

Days = Annotated[int, Field(ge=1, le=3650)]
Category = Annotated[str, Field(min_length=1, max_length=200)]
ChannelName = Literal[
    "web", "phone", "email", "store", "sms", "mail", "kiosk", "chat", "social", "app"
]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: RuleName
    expires_after_days: Days = 14
    channel: ChannelName | None = Field(
        None, description="Preferred channel; a marketing trigger falls back to a consented one."
    )


class CrossSell(_Rule):
    """Bought in ``bought`` and nothing in ``offer`` within ``within_days`` → offer it."""

    type: Literal["cross_sell"]
    bought: Category
    offer: Category
    within_days: Days = 30
    kind: Literal[Kind.MARKETING] = Kind.MARKETING


class ServiceReminder(_Rule):
    """A service's next due date (or a warranty's end) → a reminder ``days_before`` it."""

    type: Literal["service_reminder"]
    days_before: Days = 14
    warranties: bool = Field(True, description="Also remind before a warranty ends.")
    kind: Literal[Kind.SERVICE] = Kind.SERVICE


class ComplaintEscalation(_Rule):
    """A complaint still open after its severity's SLA → a task for a manager."""

    type: Literal["complaint_escalation"]
    sla_hours: dict[Literal["low", "medium", "high", "critical"], Annotated[float, Field(gt=0)]] = {
        "low": 120,
        "medium": 72,
        "high": 24,
        "critical": 4,
    }
    kind: Literal[Kind.SERVICE] = Kind.SERVICE

    @model_validator(mode="after")
    def _every_severity(self) -> ComplaintEscalation:
        missing = {"low", "medium", "high", "critical"} - set(self.sla_hours)
        if missing:
            raise ValueError(
                f"sla_hours needs every severity; missing: {', '.join(sorted(missing))}"
            )
        return self


class ReEngagement(_Rule):
    """Declared interest in a category, or ``min_views`` product views of it within
    ``within_days``, and no purchase in it ``within_days`` later → offer the category."""

    type: Literal["re_engagement"]
    min_views: Annotated[int, Field(ge=1, le=1000)] = 3
    within_days: Days = 14
    kind: Literal[Kind.MARKETING] = Kind.MARKETING


class SurveyFollowUp(_Rule):
    """A rating ≤ ``max_rating`` or an NPS ≤ ``max_nps`` → a call-back task for service."""

    type: Literal["survey_follow_up"]
    max_rating: Annotated[int, Field(ge=1, le=5)] = 2
    max_nps: Annotated[int, Field(ge=0, le=10)] = 6
    kind: Literal[Kind.SERVICE] = Kind.SERVICE


class Vip(_Rule):
    """Lifetime spend (purchases less refunds) crosses ``threshold``."""

    type: Literal["vip"]
    threshold: Annotated[float, Field(gt=0)]
    kind: Kind = Kind.MARKETING


class LapseRisk(_Rule):
    """A customer with ≥ ``min_purchases`` purchases silent for ``silent_days``."""

    type: Literal["lapse_risk"]
    silent_days: Days = 90
    min_purchases: Annotated[int, Field(ge=1)] = 2
    kind: Literal[Kind.MARKETING] = Kind.MARKETING


Rule = Annotated[
    CrossSell
    | ServiceReminder
    | ComplaintEscalation
    | ReEngagement
    | SurveyFollowUp
    | Vip
    | LapseRisk,
    Field(discriminator="type"),
]


class FrequencyCap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max: Annotated[int, Field(ge=1)] = 2
    per_days: Days = 7


class TriggerRules(BaseModel):
    """The whole file: the rules, and the marketing frequency cap per customer and channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frequency_cap: FrequencyCap = FrequencyCap()
    consent_purpose: str = Field(
        "marketing", description="The consent purpose a marketing trigger needs."
    )
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> TriggerRules:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique")
            seen.add(rule.name)
        return self


class RulesError(DocumentError):
    """The rules are invalid; the message names each field and what is wrong."""


def parse_rules(data: Any, origin: str = "trigger rules") -> TriggerRules:
    if data is not None and not isinstance(data, Mapping):
        raise RulesError(origin, [f"expected a mapping with 'rules:', got {type(data).__name__}"])
    try:
        return TriggerRules.model_validate(data or {})
    except ValidationError as exc:
        raise RulesError(origin, named_problems(exc)) from None


DEFAULT_RULES = parse_rules(
    {
        "rules": [
            {
                "name": "garden-furniture-after-barbecue",
                "type": "cross_sell",
                "bought": "barbecues",
                "offer": "garden furniture",
                "within_days": 30,
            },
            {"name": "service-due", "type": "service_reminder", "days_before": 14},
            {"name": "complaint-sla", "type": "complaint_escalation"},
            {
                "name": "come-back-to-category",
                "type": "re_engagement",
                "min_views": 3,
                "within_days": 14,
            },
            {"name": "unhappy-survey-call-back", "type": "survey_follow_up"},
            {"name": "vip-welcome", "type": "vip", "threshold": 5000},
            {"name": "lapse-risk", "type": "lapse_risk", "silent_days": 90},
        ]
    },
    "built-in rules",
)
