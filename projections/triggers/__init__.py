"""Triggers: rules over each customer's events and time → offers and tasks (pure)."""

from projections.triggers.engine import TriggerEngine
from projections.triggers.model import Audience, Kind, Suppression, Trigger, trigger_id
from projections.triggers.rule import Rule
from projections.triggers.rules import (
    DEFAULT_RULES,
    RulesError,
    TriggerRules,
    parse_rules,
)
from projections.triggers.state import CustomerState
from projections.triggers.state_codec import decode_state, encode_state

__all__ = [
    "DEFAULT_RULES",
    "Audience",
    "CustomerState",
    "Kind",
    "Rule",
    "RulesError",
    "Suppression",
    "Trigger",
    "TriggerEngine",
    "TriggerRules",
    "decode_state",
    "encode_state",
    "parse_rules",
    "trigger_id",
]
