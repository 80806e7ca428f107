"""What the read side answers about audiences: the bodies of ``/audiences`` routes.

A member row carries the name and the one contact detail its channel needs; every other
field is absent (the route leaves out what was never set), never blank.
"""

from __future__ import annotations

from pydantic import BaseModel


class AudienceSummary(BaseModel):
    name: str
    description: str
    purpose: str
    """The consent a member list is taken under."""
    channels: list[str]
    """The channels a member list can be taken for."""


class AudienceCatalogue(BaseModel):
    audiences: list[AudienceSummary]
    """The definitions the live version applies (empty before the audiences stage ran)."""


class MemberName(BaseModel):
    title: str | None = None
    given_name: str | None = None
    family_name: str | None = None


class MemberAddress(BaseModel):
    lines: list[str] = []
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Member(BaseModel):
    customer_id: str
    name: MemberName
    email: str | None = None
    """Channel ``email`` only."""
    phone: str | None = None
    """Channels ``sms`` and ``phone`` only."""
    address: MemberAddress | None = None
    """Channel ``mail`` only."""


class MemberList(BaseModel):
    audience: str
    channel: str
    members: list[Member]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""
    audit_id: int
    """This take in the audience list audit."""


class Recommendation(BaseModel):
    category: str
    """A category the customer has not bought."""
    confidence: float
    """Share of the buyers of the category it is recommended from who also bought it."""
    support: float
    """Share of all buying customers who bought both."""
    lift: float
    """Confidence over the category's own share of buyers (> 1: bought together more than
    by chance)."""
    together: int
    """Customers who bought both."""


class NextBestOffers(BaseModel):
    customer_id: str
    offers: list[Recommendation]
    """Best first; empty when nothing reaches the minimum number of customers."""
