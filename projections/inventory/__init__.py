"""The data inventory: what customer information touchlog holds, where it came from and
where it is kept (seed 002), read from the views that already exist; no stage of its own.

For each source system and business unit: the event types it sent and the fields each
type collects with their sensitivity tier (from the schemas' tags), how many events and
customers, first and last seen, and the share of those customers with a consent record.
Who read what comes from the access audit (``api``), which composes the full report.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from events import EVENT_TYPES, Tier, field_tiers

STORES = {
    "timeline_v1": "every touchpoint, its payload as received (the timeline view)",
    "profile_facts_v1": "the profile's facts, field by field, with their history",
    "profile_terms_v1": "search terms: name words, emails, phones, postcodes",
    "identity_links": "identifiers (email, phone, external ids) linked to customers",
    "triggers_v1": "offers and tasks raised for customers, with why",
    "access_audit_v1": "who read which customer, when, which tier and why",
}
"""Where customer data is kept in PostgreSQL, and what each store holds (the log itself,
``touchlog.touchpoints``, holds every event as received)."""


@functools.cache
def collected_fields(event_type: str) -> dict[str, list[str]]:
    """Tier → the payload fields (dotted paths) an event type collects; an untagged field
    (which the contracts forbid) is listed as ``untagged``."""
    if event_type not in EVENT_TYPES:
        return {"unknown": []}
    payload: type[BaseModel] = EVENT_TYPES[event_type].model_fields["payload"].annotation  # type: ignore[assignment]
    by_tier: dict[str, list[str]] = defaultdict(list)
    for path, tier in field_tiers(payload).items():
        by_tier[tier.value if tier is not None else "untagged"].append(path)
    return {tier: sorted(paths) for tier, paths in sorted(by_tier.items(), key=_tier_order)}


def _tier_order(item: tuple[str, list[str]]) -> int:
    order = [t.value for t in Tier]
    return order.index(item[0]) if item[0] in order else len(order)


@dataclass(slots=True)
class TypeCount:
    type: str
    events: int
    customers: int
    first_seen: datetime
    last_seen: datetime


@dataclass(slots=True)
class Source:
    """One source system in one business unit."""

    source_system: str
    business_unit: str
    customers: int = 0
    customers_with_consent: int = 0
    types: list[TypeCount] = field(default_factory=list)

    def as_dict(self, readers_by_type: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        events = sum(t.events for t in self.types)
        readers: dict[tuple[str, str, str], int] = defaultdict(int)
        for kind in self.types:
            for reader in readers_by_type.get(kind.type, []):
                readers[(reader["who"], reader["role"], reader["tier"])] += reader["reads"]
        return {
            "source_system": self.source_system,
            "business_unit": self.business_unit,
            "events": events,
            "customers": self.customers,
            "first_seen": min((t.first_seen for t in self.types), default=None),
            "last_seen": max((t.last_seen for t in self.types), default=None),
            "consent_coverage": (
                round(self.customers_with_consent / self.customers, 4) if self.customers else None
            ),
            "customers_with_consent": self.customers_with_consent,
            "event_types": [
                {
                    "type": t.type,
                    "events": t.events,
                    "customers": t.customers,
                    "first_seen": t.first_seen,
                    "last_seen": t.last_seen,
                    "fields": collected_fields(t.type),
                }
                for t in self.types
            ],
            "readers": [
                {"who": who, "role": role, "tier": tier, "reads": reads}
                for (who, role, tier), reads in sorted(readers.items(), key=lambda r: -r[1])
            ],
        }
