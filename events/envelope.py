"""The event envelope shared by every touchpoint (DESIGN.md, "The event envelope").

Field names follow the Segment / RudderStack spec where one exists. Every model
is frozen and forbids unknown fields: an event is a fact, and a typo in a field
name must be an error rather than silently dropped data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)

from events import rules
from events.rules import DATES_IN_RANGE, NO_NUL, ContractRule
from events.sensitivity import essential, service


class Channel(StrEnum):
    WEB = "web"
    PHONE = "phone"
    EMAIL = "email"
    STORE = "store"
    SMS = "sms"
    MAIL = "mail"
    KIOSK = "kiosk"
    CHAT = "chat"
    SOCIAL = "social"
    APP = "app"


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise DATES_IN_RANGE.broken("out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

# Every string's pattern refuses NUL (``rules.NO_NUL``): PostgreSQL cannot store it.
# A name's also says "not blank", since the reader strips before checking length.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=rules.NAME)
]
Text = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
WRITTEN_PHONE = r"^(?:\+|\(\+?)?[0-9][0-9 ().\-/]{4,30}[0-9]$"
WRITTEN_PHONE_V1 = r"^\+?[0-9][0-9 ().\-/]{4,30}[0-9]$"
r"""Published first; ``WRITTEN_PHONE`` takes every string it took, and ``(`` or ``(+`` before."""
WrittenPhone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=WRITTEN_PHONE)]
"""A phone number as the channel wrote it (``06 28 23 04 55``, ``+33 (0)6…``, ``(0207) 946-1234``,
``(+44) 20…``). The log keeps it as given; identity resolution normalises it to E.164 with its
configured default region."""
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=rules.EMAIL),
]


class Model(BaseModel):
    """Base of every event model: immutable, strict about unknown fields.

    ``contract_rules`` are the model's rules that its JSON Schema cannot express; the
    contract of every type that holds the model lists them as ``x-rules``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    contract_rules: ClassVar[tuple[ContractRule, ...]] = ()


def _subject_is_identified() -> dict[str, Any]:
    names = ("customer_id", "email", "phone", "anonymous_id")
    branches: list[dict[str, Any]] = [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in names
    ]
    branches.append({"required": ["external_ids"], "properties": {"external_ids": {"minItems": 1}}})
    return {"anyOf": branches}


SUBJECT_IS_IDENTIFIED = _subject_is_identified()
"""The subject's rule in JSON Schema: one identifier at least."""


class ExternalId(Model):
    """A business unit's own identifier: customer number, loyalty card, …"""

    type: Name = essential(description="Kind of identifier, e.g. 'retail_customer_no'.")
    id: Name = essential(description="The identifier's value in that system.")


class Subject(Model):
    """Who an event is about. At least one identifier is required."""

    model_config = ConfigDict(json_schema_extra=SUBJECT_IS_IDENTIFIED)

    customer_id: Name | None = essential(None, description="touchlog customer id, if known.")
    email: Email | None = essential(None)
    phone: WrittenPhone | None = essential(
        None, description="Phone number as written; E.164 preferred, normalised by the resolver."
    )
    phones: tuple[WrittenPhone, ...] = essential(
        (),
        max_length=10,
        description="Further numbers the subject is reached at (work, home, …), as written; "
        "each is an identifier like phone.",
    )
    external_ids: tuple[ExternalId, ...] = essential(())
    anonymous_id: Name | None = essential(None, description="Device or cookie id.")

    @model_validator(mode="after")
    def _has_an_identifier(self) -> Subject:
        if not (
            self.customer_id or self.email or self.phone or self.external_ids or self.anonymous_id
        ):
            raise ValueError(
                "subject needs at least one of customer_id, email, phone, external_ids, "
                "anonymous_id"
            )
        return self

    def key(self) -> str:
        """The best identifier, in priority order customer_id > email > phone > external ids.

        Used as the Kafka key (one subject, one partition) and, until identity
        resolution, as the timeline's subject key.
        """
        if self.customer_id:
            return self.customer_id
        if self.email:
            return f"email:{self.email.strip().lower()}"
        if self.phone:
            return "phone:" + "".join(c for c in self.phone if c.isdigit() or c == "+")
        if self.external_ids:
            first = self.external_ids[0]
            return f"external_id:{first.type}:{first.id}"
        return f"anonymous_id:{self.anonymous_id}"


class Source(Model):
    """The channel system that captured the touchpoint."""

    system: Name = service(description="Emitting system, e.g. 'callcentre-genesys'.")
    business_unit: Name = service(description="Business unit that owns the touchpoint.")
    channel: Channel = service()


class Campaign(Model):
    """Attribution: a mailer reference, a campaign phone number, a promotion code."""

    code: Name | None = service(None, description="Campaign or promotion code.")
    reference: Name | None = service(None, description="Reference printed on a mailer.")
    name: Name | None = service(None)


class Envelope(Model):
    """Fields every touchpoint carries. Subclasses fix ``type`` and ``payload``."""

    current_version: ClassVar[int] = 1

    message_id: MessageId = service(
        default_factory=lambda: str(uuid.uuid4()),
        description="Producer's unique id; deduplication key with source. Generated if absent.",
    )
    schema_version: int = service(
        1,
        ge=1,
        description="Version of the type's contract; producers send it. "
        "Readers take an absent one as current and upcast older ones.",
    )
    occurred_at: UtcDatetime = service(description="When the touchpoint happened.")
    sent_at: UtcDatetime | None = service(None, description="When the producer sent it.")
    received_at: UtcDatetime | None = service(None, description="When touchlog received it.")
    source: Source = service()
    subject: Subject = essential()
    campaign: Campaign | None = service(None)
    correlation_id: MessageId | None = service(None)
    causation_id: MessageId | None = service(None)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version > cls.current_version:
            raise ValueError(
                f"schema_version {version} is newer than this reader knows "
                f"(current is {cls.current_version})"
            )
        return version


def correct_clock_skew(
    original_timestamp: datetime, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Segment's skew correction: ``received_at - (sent_at - original_timestamp)``.

    The device's clock may be wrong, but the gap between when it recorded the
    touchpoint and when it sent it is measured on that same clock.
    """
    if sent_at is None:
        return original_timestamp
    return received_at - (sent_at - original_timestamp)
