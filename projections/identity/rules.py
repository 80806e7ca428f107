"""The rules identity resolution follows: junk values, shared numbers, per-kind limits.

Modelled on Segment Unify's identity settings; loaded from settings or YAML.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

from events import Subject
from projections.identity.identifiers import (
    Identifier,
    IdentifierKind,
    normalise,
    normalise_external_id,
    normalise_phone,
)

DEFAULT_BLOCKLIST = (
    r"^[0-]*$",
    r"^-1$",
    r"^null$",
    r"^none$",
    r"^anonymous$",
    r"^unknown$",
    r"^n/?a$",
    r"^test@test\.com$",
)

# An identifier linked to this many distinct customers is shared: it stops matching.
# Resolution never links an identifier that would break a per-customer limit, so a second
# customer on an identifier only appears through a split, a confirmed merge undone, or
# data loaded that way.
DEFAULT_MAX_CUSTOMERS: Mapping[IdentifierKind, int] = {
    # A mailbox or a business unit's customer number is one person's: once two customers
    # kept apart share it, matching on it would be a guess.
    IdentifierKind.EMAIL: 2,
    IdentifierKind.EXTERNAL_ID: 2,
    # Households and small offices share a line; the 3rd customer on it makes it a shared
    # line, like a switchboard.
    IdentifierKind.PHONE: 3,
    # Family devices and shop kiosks carry several people; a low-stakes, lowest-priority hint.
    IdentifierKind.ANONYMOUS_ID: 5,
}

# Segment Unify's per-customer limits: how many distinct values of a kind one (surviving)
# customer may hold; external ids count per type ("one retail_customer_no per customer").
# An identifier that would break one is not matched on and not linked: a household
# landline or a shop phone typed on another person's record does not merge two people.
# Precision over recall: the same person under two emails stays two customers until a
# person confirms the duplicate.
DEFAULT_MAX_PER_CUSTOMER: Mapping[IdentifierKind, int] = {
    IdentifierKind.EMAIL: 1,
    IdentifierKind.PHONE: 3,  # mobile, home, work
    IdentifierKind.EXTERNAL_ID: 1,  # per type
    IdentifierKind.ANONYMOUS_ID: 10,  # browsers and devices
}


def _by_name(limits: Mapping[Any, Any], defaults: Mapping[IdentifierKind, int]) -> dict[Any, Any]:
    merged: dict[Any, Any] = dict(defaults)
    for kind, limit in limits.items():
        if isinstance(kind, str) and not kind.isdigit():
            if kind.upper() not in IdentifierKind.__members__:
                kinds = ", ".join(k.prefix for k in IdentifierKind)
                raise ValueError(f"{kind!r} is not an identifier kind ({kinds})")
            kind = IdentifierKind[kind.upper()]
        merged[kind] = limit
    return merged


def _sensible(limits: dict[IdentifierKind, int], what: str) -> dict[IdentifierKind, int]:
    if IdentifierKind.CUSTOMER_ID in limits:
        raise ValueError("customer_id is authoritative and takes no limit")
    for kind, limit in limits.items():
        if limit < 1:
            raise ValueError(f"the {what} of {kind.prefix} must be at least 1, not {limit}")
    return limits


# Written values remembered with what they stand for (an entry is ~250 bytes). The
# working set of a large log (a few written forms of each person's phone and email) must
# fit: past the limit the memo starts over, and a phone number parses in ~40 µs.
REMEMBERED_VALUES = 500_000


@functools.lru_cache(maxsize=1 << 18)
def limit_group(identifier_key: str) -> tuple[IdentifierKind, str] | None:
    """What a per-customer limit counts an identifier key in: its kind, and for an external
    id its type (``external_id:loyalty:L9`` -> ``(EXTERNAL_ID, "loyalty")``).

    None for a key that names no kind."""
    prefix, _, value = identifier_key.partition(":")
    kind = IdentifierKind.__members__.get(prefix.upper())
    if kind is None or prefix != kind.prefix:
        return None
    return kind, value.partition(":")[0] if kind is IdentifierKind.EXTERNAL_ID else ""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A written identifier that cannot be used, and why."""

    identifier_kind: IdentifierKind
    raw: str
    reason: str
    malformed: bool = False
    """Not a value of its kind at all (a typing mistake), rather than a refused one."""

    def __reduce__(self) -> tuple[type[Rejected], tuple[Any, ...]]:
        # Pickled as its fields: helper processes send thousands a batch, and a slots
        # dataclass's default state (built by ``dataclasses.fields``) costs ~10x more.
        return (Rejected, (self.identifier_kind, self.raw, self.reason, self.malformed))


class IdentityRules(BaseModel):
    """``max_customers`` (per identifier) and ``max_per_customer`` (per customer) may name
    kinds in any case (YAML); kinds they leave out keep their defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = "FR"
    blocklist: tuple[str, ...] = DEFAULT_BLOCKLIST
    shared_numbers: tuple[str, ...] = ()
    max_customers: dict[IdentifierKind, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_CUSTOMERS)
    )
    max_per_customer: dict[IdentifierKind, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_PER_CUSTOMER)
    )
    _patterns: tuple[re.Pattern[str], ...] = PrivateAttr(default=())
    _any_pattern: re.Pattern[str] | None = PrivateAttr(default=None)
    # Written values seen before, and what they stand for. Resolution meets the same
    # people's phones and emails again and again; parsing a phone number costs ~50 µs.
    _written: dict[tuple[Any, ...], Identifier | Rejected] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._patterns = tuple(re.compile(p, re.IGNORECASE) for p in self.blocklist)
        if self.blocklist:  # one pass over a value; the patterns one by one only to say which
            self._any_pattern = re.compile(
                "|".join(f"(?:{p})" for p in self.blocklist), re.IGNORECASE
            )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region phonenumbers knows (e.g. 'FR', 'GB')")
        return region.upper()

    @field_validator("blocklist")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"blocklist pattern {pattern!r} is not a regex: {error}") from None
        return patterns

    @field_validator("shared_numbers")
    @classmethod
    def _normalised(cls, numbers: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        region = info.data.get("default_region")
        if region is None:  # the region is invalid and already reported
            return numbers
        normalised: dict[str, None] = {}
        for raw in numbers:
            number = normalise_phone(raw, region)
            if number is None:
                raise ValueError(f"shared number {raw!r} is not a valid phone number in {region}")
            normalised[number] = None
        return tuple(normalised)

    @field_validator("max_customers", mode="before")
    @classmethod
    def _customers_over_defaults(cls, limits: Any) -> Any:
        return _by_name(limits, DEFAULT_MAX_CUSTOMERS) if isinstance(limits, Mapping) else limits

    @field_validator("max_per_customer", mode="before")
    @classmethod
    def _per_customer_over_defaults(cls, limits: Any) -> Any:
        if not isinstance(limits, Mapping):
            return limits
        return _by_name(limits, DEFAULT_MAX_PER_CUSTOMER)

    @field_validator("max_customers")
    @classmethod
    def _sensible_customers(cls, limits: dict[IdentifierKind, int]) -> dict[IdentifierKind, int]:
        return _sensible(limits, "limit")

    @field_validator("max_per_customer")
    @classmethod
    def _sensible_per_customer(cls, limits: dict[IdentifierKind, int]) -> dict[IdentifierKind, int]:
        return _sensible(limits, "per-customer limit")

    def limit(self, kind: IdentifierKind) -> int | None:
        """Customers at which an identifier of this kind stops matching; None: no limit."""
        return self.max_customers.get(kind)

    def per_customer_limit(self, kind: IdentifierKind) -> int | None:
        """Distinct values of this kind one customer may hold (external ids: per type);
        None: no limit."""
        return self.max_per_customer.get(kind)

    def blocked(self, kind: IdentifierKind, raw: str, normalised: str | None) -> str | None:
        """Why a value is junk, or None. External ids are checked on their id part."""
        values = [v for v in (raw.strip(), normalised) if v is not None]
        if kind is IdentifierKind.EXTERNAL_ID:
            values = [v.partition(":")[2].strip() for v in values]
        any_pattern = self._any_pattern
        for value in values:
            if any_pattern is None or not any_pattern.search(value):
                continue
            for pattern in self._patterns:
                if pattern.search(value):
                    return f"blocklisted: {value!r} matches {pattern.pattern}"
        if kind is IdentifierKind.PHONE and normalised in self.shared_numbers:
            return f"shared number {normalised} (e.g. a switchboard)"
        return None

    def accept(
        self, kind: IdentifierKind, raw: str, normalised: str | None
    ) -> Identifier | Rejected:
        """The identifier, unless the value is junk or could not be normalised."""
        reason = self.blocked(kind, raw, normalised)
        if reason is not None:
            return Rejected(kind, raw, reason)
        if normalised is None:
            return Rejected(kind, raw, f"not a valid {kind.prefix}", malformed=True)
        return Identifier(kind, normalised)

    def identifier(self, kind: IdentifierKind, raw: str) -> Identifier | Rejected:
        """What a written value (e.g. a phone typed into a lookup) stands for, under these rules."""
        written = self._written
        known = written.get((kind, raw))
        if known is None:
            normalised = normalise(kind, raw, self.default_region)
            known = self._remember(written, (kind, raw), kind, raw, normalised)
        return known

    def identifiers_of(self, subject: Subject) -> tuple[list[Identifier], list[Rejected]]:
        """A subject's usable identifiers, deduplicated, highest priority first; and the rejects."""
        return self._identifiers_of(subject, self._written)

    def identifiers_of_each(
        self, subjects: Iterable[Subject]
    ) -> list[tuple[list[Identifier], list[Rejected]]]:
        """``identifiers_of`` for many subjects."""
        # The memo is looked up once: each read of a private attribute goes through
        # pydantic's ``__getattr__`` (~1 µs), and the resolver reads every event's subject.
        written = self._written
        return [self._identifiers_of(subject, written) for subject in subjects]

    def _identifiers_of(
        self, subject: Subject, written: dict[tuple[Any, ...], Identifier | Rejected]
    ) -> tuple[list[Identifier], list[Rejected]]:
        found: set[Identifier] = set()
        rejected: list[Rejected] = []
        for kind, raw in (
            (IdentifierKind.CUSTOMER_ID, subject.customer_id),
            (IdentifierKind.EMAIL, subject.email),
            (IdentifierKind.PHONE, subject.phone),
            (IdentifierKind.ANONYMOUS_ID, subject.anonymous_id),
            *((IdentifierKind.PHONE, phone) for phone in subject.phones),
        ):
            if raw is None:
                continue
            outcome = written.get((kind, raw))
            if outcome is None:
                normalised = normalise(kind, raw, self.default_region)
                outcome = self._remember(written, (kind, raw), kind, raw, normalised)
            if isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                found.add(outcome)
        for e in subject.external_ids:
            # Remembered by (kind, type, id): unlike identifier()'s (kind, "type:id"), a type
            # containing ':' must be refused, not split elsewhere.
            outcome = written.get((IdentifierKind.EXTERNAL_ID, e.type, e.id))
            if outcome is None:
                outcome = self._remember(
                    written,
                    (IdentifierKind.EXTERNAL_ID, e.type, e.id),
                    IdentifierKind.EXTERNAL_ID,
                    f"{e.type}:{e.id}",
                    normalise_external_id(e.type, e.id),
                )
            if isinstance(outcome, Rejected):
                rejected.append(outcome)
            else:
                found.add(outcome)
        return sorted(found), sorted(rejected, key=_kind_of)

    def _remember(
        self,
        written: dict[tuple[Any, ...], Identifier | Rejected],
        memo_key: tuple[Any, ...],
        kind: IdentifierKind,
        raw: str,
        normalised: str | None,
    ) -> Identifier | Rejected:
        if len(written) >= REMEMBERED_VALUES:
            written.clear()
        outcome = written[memo_key] = self.accept(kind, raw, normalised)
        return outcome


def _kind_of(rejected: Rejected) -> IdentifierKind:
    return rejected.identifier_kind


def identifiers_of(
    subject: Subject, rules: IdentityRules
) -> tuple[list[Identifier], list[Rejected]]:
    """A subject's usable identifiers, deduplicated, highest priority first; and the rejects."""
    return rules.identifiers_of(subject)
