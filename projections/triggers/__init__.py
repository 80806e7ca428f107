"""Triggers: rules over each customer's events and time → offers and tasks (pure)."""

from projections.triggers.engine import TriggerEngine
from projections.triggers.model import Audience, Kind, Suppression, Trigger, trigger_id
from projections.triggers.rules import (
    DEFAULT_RULES,
    RulesError,
    TriggerRules,
    parse_rules,
)
from projections.triggers.state import CustomerState

__all__ = [
    "DEFAULT_RULES",
    "Audience",
    "CustomerState",
    "Kind",
    "RulesError",
    "Suppression",
    "Trigger",
    "TriggerEngine",
    "TriggerRules",
    "parse_rules",
    "trigger_id",
]
