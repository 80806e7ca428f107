"""What the read side answers about customers: the response bodies of its routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.audience_schemas import Recommendation
from projections.profile import HistoryEntry


class LastContact(BaseModel):
    at: datetime
    type: str
    channel: str


class CallerCard(BaseModel):
    customer_id: str
    title: str | None
    given_name: str | None
    family_name: str | None
    pronunciation: str | None
    last_contact: LastContact | None
    open_complaints: int


class LookupResult(BaseModel):
    identifier: str
    """The identifier searched for, normalised (e.g. ``phone:+33628230455``)."""
    candidates: list[CallerCard]
    """Every customer it leads to: several means ambiguous — never a guess."""
    ambiguous: bool = False
    """More than one customer holds it (a household landline, a switchboard): ask who is
    calling; every one of them is in ``candidates``."""
    shared: bool = False
    """A shared number: configured in ``shared_numbers`` (no candidates), or found by
    identity resolution on people otherwise distinct (another email or customer number),
    which no longer matches on it; ``not_matched`` says which."""
    not_matched: str | None = None
    """Why the identifier cannot identify anyone (e.g. a blocklisted switchboard number,
    or one found shared)."""


class Customer(BaseModel):
    customer_id: str
    born_at: datetime | None
    """When the identity graph first saw it; null for a customer only the views know yet."""
    merged_ids: list[str]
    identifiers: list[str]
    next_best_offers: list[Recommendation] = []
    """The categories to offer next, best first (as ``…/next-best-offers``, top 3)."""


class Match(BaseModel):
    customer_id: str
    matched_on: list[str]
    """What the query matched: name, email, phone, postcode (a current or a former value)."""
    card: dict[str, Any]


class SearchResult(BaseModel):
    query: str
    matches: list[Match]


class TimelineItem(BaseModel):
    message_id: str
    type: str
    occurred_at: datetime
    channel: str
    source_system: str
    business_unit: str
    summary: str | None
    """Null unless the service tier is readable: summaries are built from service fields."""
    campaign_code: str | None
    payload: dict[str, Any]


class TimelineResponse(BaseModel):
    subject_key: str
    items: list[TimelineItem]
    next_cursor: str | None
    """Pass as ``before`` to get the next (older) page; null on the last page."""
    withheld: list[str]
    """Tiers not served to this caller."""
    audit_id: int | None = None


class ProfileResponse(BaseModel):
    customer_id: str
    """The surviving customer: the one asked for, or the one it was merged into."""
    merged_ids: list[str]
    as_of: datetime | None
    """The moment asked for; null: as of ``read_at``."""
    read_at: datetime
    role: str
    essential: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    restricted: dict[str, Any] | None = None
    consents: dict[str, Any] | None = None
    """Purpose/channel (``*``: every channel) → status, legal basis, how and when given."""
    withheld: dict[str, list[str]]
    """Tier → fields not served to this role (names only)."""
    audit_id: int | None = None


class HistoryResponse(BaseModel):
    customer_id: str
    field: str
    tier: str
    entries: list[HistoryEntry]
    audit_id: int | None = None


class AccessRecord(BaseModel):
    id: int
    at: datetime
    """When the read was made (recorded before the answer left)."""
    who: str
    role: str
    customer_id: str | None
    """The customer read (the first one, for a read of several; null if it found none)."""
    customer_ids: list[str]
    """Every customer the read served something about (a search's or a lookup's matches)."""
    endpoint: str
    """What was done: lookup, search, customer, timeline, profile, profile.history,
    triggers, trigger, verify, next-best-offers, audience-list, export…"""
    route: str | None
    """The route asked for (its template), e.g. ``/customers/{key}/timeline``."""
    tier: str
    """The highest tier served: essential, service or restricted."""
    fields: list[str]
    """What was served above the essential tier."""
    reason: str | None
    """Why: the reason given with a reveal, else the role's everyday purpose."""
    as_of: datetime | None
    detail: dict[str, Any] | None = None
    """What was searched for, masked (never the phone, email or name itself)."""


class AccessLog(BaseModel):
    records: list[AccessRecord]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; null on the last page."""
