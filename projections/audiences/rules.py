"""Audiences as data: who belongs, in rules over the customer's profile.

An audiences document (YAML, ``TOUCHLOG_AUDIENCES_FILE``) names each audience, the
channels it may be contacted on and the consent purpose that allows it, and the rules a
member meets (every rule given must hold). Every mistake is named by its path, as the
trigger rules do (``audiences.0.when.spend_band.0: …``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from events.documents import DocumentError, named_problems
from events.envelope import Channel
from events.touchpoints.profile import ConsentPurpose

AudienceName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Labels = Annotated[list[Label], Field(min_length=1, max_length=100)]

ContactChannel = Literal["email", "sms", "phone", "mail", "app"]
"""Channels a member list can be taken for (each has its own contact details)."""
CONTACT_CHANNELS: tuple[str, ...] = get_args(ContactChannel)


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Rules):
    at_least: Annotated[float, Field(ge=0)] | None = None
    at_most: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("at_least is more than at_most")
        return self

    def holds(self, value: float) -> bool:
        return (self.at_least is None or value >= self.at_least) and (
            self.at_most is None or value <= self.at_most
        )


class Spend(Range):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"


class Categories(_Rules):
    any_of: Labels | None = None
    """At least one of these."""
    none_of: Labels | None = None
    """None of these."""

    @model_validator(mode="after")
    def _given(self) -> Categories:
        if self.any_of is None and self.none_of is None:
            raise ValueError("give any_of, none_of or both")
        return self


class ConsentRule(_Rules):
    purpose: ConsentPurpose = ConsentPurpose.MARKETING
    channel: Channel


class When(_Rules):
    """Every rule given must hold; a rule not given holds for everyone."""

    country: Labels | None = None
    """Country code of any postal address (``FR``)."""
    region: Labels | None = None
    """Region of any postal address, as written."""
    postcode_area: Labels | None = None
    """Prefix of any postal address's postcode (``75``, ``T12``), spaces ignored."""
    spend_band: Labels | None = None
    """Bands of ``spend_bands``, by lifetime spend in its currency."""
    lifetime_spend: Spend | None = None
    categories_bought: Categories | None = None
    interests: Categories | None = None
    days_since_last_purchase: Range | None = None
    """Days from the last purchase to the customer's latest event; no purchase: no match."""
    complaint: Literal["open", "none"] | None = None
    """``open``: at least one open complaint; ``none``: no open complaint."""
    consent: ConsentRule | None = None
    """Granted, and not expired at the customer's latest event."""


class Audience(_Rules):
    name: AudienceName
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    purpose: ConsentPurpose = ConsentPurpose.MARKETING
    """The consent a member list is taken under."""
    channels: Annotated[list[ContactChannel], Field(min_length=1, max_length=5)]
    """Where members may be contacted; a member has granted ``purpose`` on one of them."""
    when: When = When()


class SpendBands(_Rules):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    bands: Annotated[dict[Label, Annotated[float, Field(ge=0)]], Field(min_length=1)] = Field(
        default_factory=lambda: {"low": 0.0, "medium": 250.0, "high": 1000.0}
    )
    """Band name → lowest lifetime spend in it; a customer is in the highest band reached
    (in no band without a purchase in ``currency``)."""

    def band(self, total: float) -> str | None:
        reached = [(low, name) for name, low in self.bands.items() if total >= low]
        return max(reached)[1] if reached else None


class Audiences(_Rules):
    spend_bands: SpendBands = SpendBands()
    audiences: Annotated[list[Audience], Field(max_length=200)] = []

    def fingerprint(self) -> str:
        """Changes whenever what decides membership does (a rebuild is then due)."""
        document = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(document.encode()).hexdigest()[:16]

    def named(self, name: str) -> Audience | None:
        return next((a for a in self.audiences if a.name == name), None)


class AudiencesError(DocumentError):
    """An audiences document that cannot be used, every mistake named by its path."""


def parse_audiences(data: Any, origin: str = "audiences") -> Audiences:
    if data is not None and not isinstance(data, Mapping):
        raise AudiencesError(
            origin, [f"expected a mapping with 'audiences:', got {type(data).__name__}"]
        )
    try:
        audiences = Audiences.model_validate(data or {})
    except ValidationError as exc:
        raise AudiencesError(origin, named_problems(exc)) from None
    problems = _inconsistencies(audiences)
    if problems:
        raise AudiencesError(origin, problems)
    return audiences


def _inconsistencies(audiences: Audiences) -> list[str]:
    """What each audience is alone cannot say: names used twice, bands nobody defined."""
    problems, seen = [], set()
    bands = audiences.spend_bands.bands
    for i, audience in enumerate(audiences.audiences):
        if audience.name in seen:
            problems.append(f"audiences.{i}.name: {audience.name!r} is defined twice")
        seen.add(audience.name)
        for j, band in enumerate(audience.when.spend_band or ()):
            if band not in bands:
                problems.append(
                    f"audiences.{i}.when.spend_band.{j}: {band!r} is not a spend band "
                    f"({', '.join(bands)})"
                )
    return problems


NO_AUDIENCES = Audiences()
