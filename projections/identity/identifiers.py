"""The identifiers a customer is known by, and how their written forms are normalised.

Matching compares normalised values only: ``06 28 23 04 55`` and ``+33628230455``
are the same caller, ``Ann@X.com `` and ``ann@x.com`` the same mailbox.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import phonenumbers


class IdentifierKind(IntEnum):
    """What an identifier is. The value is its priority: lower wins."""

    CUSTOMER_ID = 0
    EMAIL = 1
    PHONE = 2
    EXTERNAL_ID = 3
    ANONYMOUS_ID = 4

    @property
    def prefix(self) -> str:
        """The kind as written in an identifier key, e.g. ``external_id``."""
        return _PREFIXES[self]


_PREFIXES = {kind: kind.name.lower() for kind in IdentifierKind}
_KINDS = {kind.prefix: kind for kind in IdentifierKind}
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Letters are refused: phonenumbers would read them as a keypad ("1-800-FLOWERS"), which
# turns junk text and extensions ("ext 12") into numbers that belong to someone else.
_WRITTEN_PHONE = re.compile(r"[0-9\s.\-()/+]+")


def normalise_phone(raw: str, default_region: str) -> str | None:
    """E.164 form of a phone number written any usual way; None if it is not a valid number.

    A number without a country code is read as a number of ``default_region``.
    """
    written = raw.strip()
    if len(written) > _LONGEST_WRITTEN or not _WRITTEN_PHONE.fullmatch(written):
        return None
    # Channels write the same number with different punctuation, which phonenumbers
    # ignores: each dialled form is parsed once (~50 µs), not each written one.
    return _e164(_PUNCTUATION.sub("", written), default_region)


_PUNCTUATION = re.compile(r"[\s.\-()/]")
_LONGEST_WRITTEN = 250  # phonenumbers refuses longer input; so must the dialled form


@functools.lru_cache(maxsize=1 << 18)
def _e164(dialled: str, default_region: str) -> str | None:
    try:
        number = phonenumbers.parse(dialled, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # The metadata accepts a few national numbers longer than E.164's 15 digits (some
    # German ones): they cannot be a key, so they are no phone for identity.
    return e164 if _E164.fullmatch(e164) else None


def normalise_email(raw: str) -> str | None:
    """Trimmed and lower-cased; None if it does not look like an email address."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        return None
    return email


def normalise_external_id(type_: str, id_: str) -> str | None:
    """``type:id`` with the type lower-cased and both trimmed; the id keeps its case.

    None if either part is blank, or the type contains ``:`` (the key would be ambiguous).
    """
    kind, value = type_.strip().lower(), id_.strip()
    if not kind or not value or ":" in kind:
        return None
    return f"{kind}:{value}"


def normalise(kind: IdentifierKind, raw: str, default_region: str) -> str | None:
    """The normalised value of a written identifier; external ids are written ``type:id``."""
    if kind is IdentifierKind.EMAIL:
        return normalise_email(raw)
    if kind is IdentifierKind.PHONE:
        return normalise_phone(raw, default_region)
    if kind is IdentifierKind.EXTERNAL_ID:
        type_, _, id_ = raw.partition(":")
        return normalise_external_id(type_, id_)
    return raw.strip() or None


def _problem(kind: IdentifierKind, value: str) -> str | None:
    if not value or value != value.strip():
        return "the value is blank or has surrounding whitespace"
    if kind is IdentifierKind.EMAIL and normalise_email(value) != value:
        return "an email must be trimmed and lower-case"
    # The shape only: whether a number is valid depends on the phonenumbers metadata of
    # the day, and a key stored yesterday must still parse after an upgrade.
    if kind is IdentifierKind.PHONE and not _E164.fullmatch(value):
        return "a phone must be in E.164 form"
    if kind is IdentifierKind.EXTERNAL_ID:
        type_, _, id_ = value.partition(":")
        if normalise_external_id(type_, id_) != value:
            return "an external id must be 'type:id' with a lower-case type"
    return None


@dataclass(frozen=True, order=True, slots=True)
class Identifier:
    """A normalised identifier. Sorting puts the highest priority first."""

    kind: IdentifierKind
    value: str
    key: str = field(init=False, compare=False, repr=False)
    """``<kind>:<value>``, e.g. ``phone:+33628230455`` or ``external_id:loyalty:L9``."""

    def __post_init__(self) -> None:
        problem = _problem(self.kind, self.value)
        if problem:
            raise ValueError(f"not a normalised {self.kind.prefix} {self.value!r}: {problem}")
        # Read for every identifier of every event resolved: made once.
        object.__setattr__(self, "key", f"{self.kind.prefix}:{self.value}")

    def __reduce__(self) -> tuple[Callable[..., Identifier], tuple[Any, ...]]:
        # A helper process sends thousands a batch: pickled as its fields, and not
        # checked again when unpickled (it was when made).
        return (_unpickled, (self.kind, self.value, self.key))

    @classmethod
    def parse(cls, key: str) -> Identifier:
        """The identifier a key stands for (the inverse of ``key``)."""
        prefix, colon, value = key.partition(":")
        kind = _KINDS.get(prefix)
        if not colon or kind is None:
            kinds = ", ".join(_KINDS)
            raise ValueError(
                f"{key!r} is not an identifier key: expected '<kind>:<value>', kind one of {kinds}"
            )
        problem = _problem(kind, value)
        if problem:
            raise ValueError(f"{key!r} is not an identifier key: {problem}")
        return cls(kind, value)


def _unpickled(kind: IdentifierKind, value: str, key: str) -> Identifier:
    identifier = object.__new__(Identifier)
    object.__setattr__(identifier, "kind", kind)
    object.__setattr__(identifier, "value", value)
    object.__setattr__(identifier, "key", key)
    return identifier
