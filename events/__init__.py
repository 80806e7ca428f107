"""touchlog's events: the envelope, every touchpoint type, their JSON encoding.

The touchpoint types themselves live in ``events.touchpoints`` (one module per family);
``events.contracts`` generates their JSON Schema contracts. Depends on nothing else of
touchlog's.
"""

from events.catalogue import EVENT_TYPES, AnyTouchpoint, versions_of
from events.codec import FieldError, InvalidEvent, decode, encode, from_mapping
from events.envelope import Campaign, Channel, ExternalId, Source, Subject, correct_clock_skew
from events.sensitivity import Tier, field_tiers, tier_of
from events.touchpoints import Touchpoint

__all__ = [
    "EVENT_TYPES",
    "AnyTouchpoint",
    "Campaign",
    "Channel",
    "ExternalId",
    "FieldError",
    "InvalidEvent",
    "Source",
    "Subject",
    "Tier",
    "Touchpoint",
    "correct_clock_skew",
    "decode",
    "encode",
    "field_tiers",
    "from_mapping",
    "tier_of",
    "versions_of",
]
