"""Who is in an audience, and each entry and exit as a record with a deterministic id.

Pure: ``evaluate`` reads a customer's traits, ``step`` compares with where the customer
stood and numbers the change. The n-th change of a customer in an audience has the id
``audience:customer:n`` whatever batch it was computed in, so a replay after a crash
produces the same records, recognisably the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from projections.audiences.rules import Audience, Audiences, Categories, When
from projections.audiences.traits import Traits, moment_of

CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("customer_id", "name", "email"),
    "sms": ("customer_id", "name", "phone"),
    "phone": ("customer_id", "name", "phone"),
    "mail": ("customer_id", "name", "address"),
    "app": ("customer_id", "name"),
}
"""Everything a member list row may hold, per channel: what that channel needs, and the
name. ``name`` holds ``NAME_FIELDS`` only."""

NAME_FIELDS = ("title", "given_name", "family_name")
ADDRESS_FIELDS = ("lines", "locality", "region", "postal_code", "country")


def evaluate(audience: Audience, rules: Audiences, traits: Traits, at: datetime) -> bool:
    """Whether the customer belongs at ``at`` (their latest event): every rule holds, and
    ``purpose`` is granted on one of the audience's channels."""
    if not any(traits.consent(audience.purpose, c, at)[0] for c in audience.channels):
        return False
    return _holds(audience.when, rules, traits, at)


def _holds(when: When, rules: Audiences, traits: Traits, at: datetime) -> bool:
    addresses = traits.value_of("addresses") or []
    checks = [
        when.country is None or any(a["country"] in when.country for a in addresses),
        when.region is None or any(a.get("region") in when.region for a in addresses),
        when.postcode_area is None or any(_in_area(a, when.postcode_area) for a in addresses),
        when.complaint is None or traits.open_complaint() == (when.complaint == "open"),
        when.categories_bought is None or _matches(when.categories_bought, traits.categories()),
        when.interests is None or _matches(when.interests, set(traits.interests)),
        when.consent is None or traits.consent(when.consent.purpose, when.consent.channel, at)[0],
    ]
    if not all(checks):
        return False
    if when.lifetime_spend is not None:
        spent = traits.spend(when.lifetime_spend.currency)
        if not when.lifetime_spend.holds(float(spent or 0)):
            return False
    if when.spend_band is not None:
        spent = traits.spend(rules.spend_bands.currency)
        if spent is None or rules.spend_bands.band(float(spent)) not in when.spend_band:
            return False
    if when.days_since_last_purchase is not None:
        last = traits.last_purchase()
        if last is None or not when.days_since_last_purchase.holds((at - last).days):
            return False
    return True


def _in_area(address: dict[str, Any], areas: list[str]) -> bool:
    code = (address.get("postal_code") or "").replace(" ", "").upper()
    return bool(code) and any(code.startswith(a.replace(" ", "").upper()) for a in areas)


def _matches(rule: Categories, held: set[str]) -> bool:
    return (rule.any_of is None or bool(held & set(rule.any_of))) and (
        rule.none_of is None or not held & set(rule.none_of)
    )


# --- what a member list shows ------------------------------------------------------------


def _primary(items: list[dict[str, Any]], prefer: str | None = None) -> dict[str, Any] | None:
    ranked = sorted(items, key=lambda i: (not i.get("primary", False), i.get("use") != prefer))
    return ranked[0] if ranked else None


def contact_details(traits: Traits, channels: Sequence[str]) -> dict[str, Any]:
    """Per channel, the one contact detail it needs (a channel without one is left out)."""
    details: dict[str, Any] = {}
    for channel in channels:
        if channel == "email":
            email = _primary(traits.value_of("emails") or [])
            if email is not None:
                details["email"] = email["address"]
        elif channel in ("sms", "phone"):
            phone = _primary(
                traits.value_of("phones") or [], "mobile" if channel == "sms" else None
            )
            if phone is not None:
                details[channel] = phone["number"]
        elif channel == "mail":
            address = _primary(traits.value_of("addresses") or [], "home")
            if address is not None:
                details["mail"] = {k: address.get(k) for k in ADDRESS_FIELDS}
        elif channel == "app":
            details["app"] = True
    return details


def name_of(traits: Traits) -> dict[str, Any]:
    name = traits.value_of("name") or {}
    return {
        "title": traits.value_of("title"),
        "given_name": name.get("given_name"),
        "family_name": name.get("family_name"),
    }


def consented(traits: Traits, audience: Audience) -> dict[str, str | None]:
    """Channels ``purpose`` is granted on now → when the grant expires (None: never)."""
    at = moment_of(traits.moment)
    found: dict[str, str | None] = {}
    for channel in audience.channels:
        granted, expires_at = traits.consent(audience.purpose, channel, at)
        if granted:
            found[channel] = expires_at
    return found


# --- entries and exits ------------------------------------------------------------------


@dataclass(slots=True)
class Standing:
    """Where a customer stands in one audience, and how many times that changed."""

    member: bool = False
    changes: int = 0
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    audience: str
    customer_id: str
    kind: Literal["audience.entered", "audience.exited"]
    number: int
    """This customer's n-th change in this audience."""
    at: datetime
    """When the event that caused it occurred."""
    caused_by: str
    """That event's ``source_system/message_id``."""

    @property
    def id(self) -> str:
        return f"{self.audience}:{self.customer_id}:{self.number}"

    def record(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "type": self.kind,
                "audience": self.audience,
                "customer_id": self.customer_id,
                "at": self.at.isoformat(),
                "caused_by": self.caused_by,
            },
            separators=(",", ":"),
        ).encode()


def step(
    rules: Audiences,
    traits: Traits,
    standings: dict[str, Standing],
    customer_id: str,
    at: datetime,
    caused_by: str,
) -> list[Transition]:
    """After one event of the customer: who entered or left which audience. Updates
    ``standings`` in place."""
    changed: list[Transition] = []
    if not traits.moment:
        return changed
    moment = moment_of(traits.moment)
    for audience in rules.audiences:
        belongs = evaluate(audience, rules, traits, moment)
        standing = standings.setdefault(audience.name, Standing())
        if belongs == standing.member:
            continue
        standing.member, standing.changes = belongs, standing.changes + 1
        standing.since = at if belongs else None
        kind: Literal["audience.entered", "audience.exited"] = (
            "audience.entered" if belongs else "audience.exited"
        )
        changed.append(
            Transition(audience.name, customer_id, kind, standing.changes, at, caused_by)
        )
    return changed


def leave_all(
    standings: dict[str, Standing], customer_id: str, at: datetime, caused_by: str
) -> list[Transition]:
    """A customer merged into another: an exit from every audience they were in."""
    changed = []
    for name, standing in sorted(standings.items()):
        if standing.member:
            standing.member, standing.changes, standing.since = False, standing.changes + 1, None
            changed.append(
                Transition(name, customer_id, "audience.exited", standing.changes, at, caused_by)
            )
    return changed


# --- a marketing message's contact --------------------------------------------------------

_DETAIL = {"email": "email", "sms": "phone", "phone": "phone", "mail": "address"}


def channel_contact(
    traits: Traits, channel: str, at: datetime, purpose: str = "marketing"
) -> dict[str, Any] | None:
    """What a message on ``channel`` needs — ``CHANNEL_FIELDS[channel]``, nothing more —
    if ``purpose`` is granted on it at ``at`` and a contact detail is held; else None."""
    if channel not in CHANNEL_FIELDS or not traits.consent(purpose, channel, at)[0]:
        return None
    details = contact_details(traits, [channel])
    if channel not in details:
        return None
    contact: dict[str, Any] = {"name": name_of(traits)}
    if channel in _DETAIL:
        contact[_DETAIL[channel]] = details[channel]
    return contact
