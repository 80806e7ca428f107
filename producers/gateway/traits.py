"""Segment ``identify`` traits → a ``profile.updated`` payload.

Segment's reserved traits that touchlog's profile has a field for: ``firstName``,
``lastName``, ``name``, ``email``, ``phone``, ``address`` and ``birthday`` (camelCase or
snake_case). Other traits are reported back as ignored. A phone is recorded as a mobile
and an email as personal: Segment does not say which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    payload: dict[str, Any]
    origins: dict[str, str]
    used: frozenset[str]


def _first(traits: Mapping[str, Any], *names: str) -> tuple[Any, str | None]:
    for name in names:
        value = traits.get(name)
        if value is not None and value != "":
            return value, name
    return None, None


def merge_traits(
    traits: Mapping[str, Any], context_traits: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``context.traits`` under the message's own ``traits`` (which win, key by key), and
    where each trait was sent: ``traits`` or ``context.traits``."""
    merged = {**context_traits, **traits}
    places = {key: "traits" if key in traits else "context.traits" for key in merged}
    return merged, places


def profile_from_traits(
    traits: Mapping[str, Any], at: str = "traits", places: Mapping[str, str] | None = None
) -> Profile:
    """The profile update ``traits`` hold; ``places`` says where a trait was sent when not
    in ``at`` (errors name the path as sent)."""
    payload: dict[str, Any] = {}
    origins: dict[str, str] = {"payload": at}
    used: set[str] = set()

    def origin(key: str | None) -> str:
        return f"{(places or {}).get(key or '', at)}.{key}"

    first, first_key = _first(traits, "firstName", "first_name")
    last, last_key = _first(traits, "lastName", "last_name")
    full, full_key = _first(traits, "name")
    if last is not None:
        payload["name"] = {"family_name": last} | ({"given_name": first} if first else {})
        origins["payload.name"] = origin(last_key)
        origins["payload.name.family_name"] = origin(last_key)
        origins["payload.name.given_name"] = origin(first_key)
        used.update(k for k in (first_key, last_key) if k)
    elif isinstance(full, str) and full.strip():
        given, _, family = full.strip().rpartition(" ")
        payload["name"] = {"family_name": family} | ({"given_name": given} if given else {})
        origins["payload.name"] = origin("name")
        used.add("name")
    if full_key and last is not None:
        used.add(full_key)  # the parts said it better

    email, email_key = _first(traits, "email")
    if email is not None:
        payload["emails"] = [{"use": "personal", "address": email, "primary": True}]
        origins["payload.emails"] = origins["payload.emails.0"] = origin(email_key)
        origins["payload.emails.0.address"] = origin(email_key)
        used.add("email")

    phone, phone_key = _first(traits, "phone")
    if phone is not None:
        payload["phones"] = [{"use": "mobile", "number": phone, "primary": True}]
        origins["payload.phones"] = origins["payload.phones.0"] = origin(phone_key)
        origins["payload.phones.0.number"] = origin(phone_key)
        used.add("phone")

    address = traits.get("address")
    if isinstance(address, Mapping) and address:
        payload["addresses"] = [_address(address, origin("address"), origins)]
        used.add("address")

    birthday, birthday_key = _first(traits, "birthday", "date_of_birth")
    if birthday is not None:
        # Trackers often send a date-time at midnight: the date is what it means.
        is_datetime = isinstance(birthday, str) and len(birthday) > 10 and birthday[10] in "T "
        payload["date_of_birth"] = birthday[:10] if is_datetime else birthday
        origins["payload.date_of_birth"] = origin(birthday_key)
        used.add(str(birthday_key))
    return Profile(payload, origins, frozenset(used))


def _address(address: Mapping[str, Any], at: str, origins: dict[str, str]) -> dict[str, Any]:
    street, street_key = _first(address, "street", "line1")
    street2, _ = _first(address, "street2", "line2")
    postal, postal_key = _first(address, "postalCode", "postal_code")
    fields: dict[str, Any] = {"use": "home"}
    if street is not None:
        fields["lines"] = [street] + ([street2] if street2 is not None else [])
    for name, value, key in (
        ("locality", address.get("city"), "city"),
        ("region", address.get("state"), "state"),
        ("postal_code", postal, postal_key or "postalCode"),
        ("country", address.get("country"), "country"),
    ):
        origins[f"payload.addresses.0.{name}"] = f"{at}.{key}"
        if value is not None:
            fields[name] = value
    origins["payload.addresses.0.lines"] = f"{at}.{street_key or 'street'}"
    origins["payload.addresses"] = origins["payload.addresses.0"] = at
    return fields
