"""Who sees which profile fields: tiers, reveals and consented channels, by role.

- ``agent``: the essential tier (consents included); the service tier of one customer on
  request, with a reason (``reveal=service``); the restricted tier (the account's
  restricted figures, the owner's private notes) only of a customer whose relationship it
  owns (seed 004), on request with a reason (``reveal=restricted``).
- ``manager``: every tier.
- ``marketing``: consents, interests and segments; of the contact details, only what a
  channel the customer consented to for marketing needs (emails for email, mobiles for
  text messages, phones for calls, addresses for mail, and then the name to address them).

Every service or restricted value served is audited (``api.reads``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.errors import Unprocessable
from api.roles import Refused, Role
from events import Tier
from projections.profile.fields import BY_NAME, FIELDS, ProfileField
from projections.profile.profile import Profile

MARKETING_FIELDS = frozenset({"consents", "interests", "segments"})
CONTACT_FIELDS = ("name", "title", "emails", "phones", "addresses")


def check_reveal(
    role: Role, reveal: Tier | None, reason: str | None = None, *, owns: bool = False
) -> None:
    """Refuse a reveal the role may not make; an agent's reveal needs a reason
    (``Unprocessable``), recorded in the access audit. ``owns``: the caller owns the
    customer's relationship (before it is known, pass True to check all but that)."""
    if reveal is None:
        return
    if role is Role.MARKETING:
        raise Refused(
            "the marketing role cannot reveal tiers: it sees consents, interests, segments "
            "and consented contact details"
        )
    readable_tiers(role, reveal, owns=owns)
    if role is Role.AGENT and not reason:
        raise Unprocessable("reason", "revealing a tier needs a reason (it is audited)")


def readable_tiers(role: Role, reveal: Tier | None, *, owns: bool = False) -> frozenset[Tier]:
    """The tiers a rep reads, with the tier revealed if any (``Refused`` if not allowed);
    ``owns``: the caller owns the customer's relationship."""
    if role is Role.MANAGER:
        return frozenset(Tier)
    if role is Role.AGENT:
        if reveal is Tier.RESTRICTED:
            if owns:
                return frozenset(Tier)
            raise Refused(
                "an agent may not see restricted fields unless it owns the customer's "
                "relationship; a manager may"
            )
        return frozenset({Tier.ESSENTIAL} | ({Tier.SERVICE} if reveal is Tier.SERVICE else set()))
    raise Refused(f"the {role.value} role has no access to this; agents and managers have")


@dataclass(frozen=True, slots=True)
class Visible:
    values: dict[str, Any]
    withheld: dict[str, list[str]]
    """Tier → the fields not served, by name (their values are not)."""

    def audited(self) -> list[str]:
        """Fields served that are above the essential tier: every such read is audited."""
        return [name for name in self.values if BY_NAME[name].tier is not Tier.ESSENTIAL]


def _withheld(served: Iterable[str]) -> dict[str, list[str]]:
    kept = set(served)
    withheld: dict[str, list[str]] = {}
    for field in FIELDS:
        if field.name not in kept:
            withheld.setdefault(field.tier.value, []).append(field.name)
    return withheld


def visible_profile(
    profile: Profile, role: Role, reveal: Tier | None, *, owns: bool = False
) -> Visible:
    """The part of a profile a role sees (``Refused`` if it asked for more)."""
    if role is Role.MARKETING:
        check_reveal(role, reveal)
        values = {name: profile.values[name] for name in sorted(MARKETING_FIELDS)}
        values |= consented_contact(profile.values)
    else:
        tiers = readable_tiers(role, reveal, owns=owns)
        values = {f.name: profile.values[f.name] for f in FIELDS if f.tier in tiers}
    return Visible(values, _withheld(values))


def consented_channels(consents: dict[str, dict[str, Any]]) -> set[str]:
    """Channels the customer may be sent marketing on: the newest marketing decision for
    the channel, or for every channel, is a grant that has not expired."""
    allowed = set()
    for channel in ("email", "sms", "phone", "mail"):
        decisions = [
            (consent["at"], key != "marketing/*", consent)
            for key, consent in consents.items()
            if key in (f"marketing/{channel}", "marketing/*")
        ]
        if decisions:
            _, _, newest = max(decisions, key=lambda d: (d[0], d[1]))
            if newest["status"] == "granted" and not newest.get("expired"):
                allowed.add(channel)
    return allowed


def consented_contact(values: dict[str, Any]) -> dict[str, Any]:
    """The contact details marketing may have: what the consented channels need."""
    channels = consented_channels(values["consents"])
    contact: dict[str, Any] = {}
    if "email" in channels and values["emails"]:
        contact["emails"] = values["emails"]
    if "phone" in channels and values["phones"]:
        contact["phones"] = values["phones"]
    elif "sms" in channels and values["phones"]:
        mobiles = [p for p in values["phones"] if p["use"] == "mobile"]
        if mobiles:
            contact["phones"] = mobiles
    if "mail" in channels and values["addresses"]:
        contact["addresses"] = values["addresses"]
    if contact:
        contact["name"], contact["title"] = values["name"], values["title"]
    return contact


def history_allowed(
    field: ProfileField, role: Role, reveal: Tier | None, *, owns: bool = False
) -> None:
    """May this role read this field's history? ``Refused`` says why not."""
    if role is Role.MARKETING:
        if field.name in MARKETING_FIELDS:
            return
        if field.name in CONTACT_FIELDS:
            raise Refused(
                f"the marketing role sees {field.name} only as a consented channel needs it "
                "now, never its history"
            )
        raise Refused(f"the marketing role may not see {field.name} ({field.tier.value} tier)")
    if role is Role.AGENT and field.tier is Tier.RESTRICTED and not owns:
        raise Refused(
            f"{field.name} is a restricted-tier field: an agent may not see it unless it owns "
            "the customer's relationship"
        )
    if field.tier in readable_tiers(role, reveal, owns=owns):
        return
    raise Refused(
        f"{field.name} is a {field.tier.value}-tier field: an agent needs "
        f"reveal={field.tier.value} and a reason"
    )
