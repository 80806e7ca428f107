"""Trigger rules, from a YAML file validated at start (``TOUCHLOG_TRIGGER_RULES``).

Each rule has a unique ``name`` (it goes into every trigger id) and a ``type``
naming what it watches; the other keys are that type's parameters. The types
themselves (``offers``, ``tasks``) say what they watch and decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from events.documents import DocumentError, named_problems
from projections.triggers.offers import RECOMMENDED, CrossSell, LapseRisk, ReEngagement, Vip
from projections.triggers.rule import Days
from projections.triggers.tasks import ComplaintEscalation, ServiceReminder, SurveyFollowUp

AnyRule = Annotated[
    CrossSell
    | ServiceReminder
    | ComplaintEscalation
    | ReEngagement
    | SurveyFollowUp
    | Vip
    | LapseRisk,
    Field(discriminator="type"),
]
"""Every rule type, told apart by ``type``: a new rule type is one class, added here."""


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
    rules: tuple[AnyRule, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> TriggerRules:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique")
            seen.add(rule.name)
        return self

    def recommending(self) -> list[str]:
        """The rules that offer ``recommended`` (the worker then keeps co-purchases)."""
        return [r.name for r in self.rules if isinstance(r, CrossSell) and r.offer == RECOMMENDED]


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
