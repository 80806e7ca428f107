"""What a trigger is: a deterministic, self-describing suggestion to act for one customer.

A trigger is either *emitted* (to ``touchlog.triggers``, the API and webhooks) or
*suppressed* (recorded with the reason, visible to managers, never sent).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Trigger ids are UUIDv5 in this namespace: the same rule, customer and evidence give the
# same id on every replay, so a re-emitted trigger is recognised as the same one.
TRIGGER_NAMESPACE = uuid.UUID("6f1d7c2e-5a8b-4e0f-9d3a-2b7c8e4f1a60")

RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Kind(StrEnum):
    MARKETING = "marketing"  # an offer: needs consent, capped, never during an open complaint
    SERVICE = "service"  # a task for staff: a reminder, a call-back, an escalation


class Audience(StrEnum):
    """Who acts on it."""

    MARKETING = "marketing"
    SERVICE = "service"
    MANAGER = "manager"


class Suppression(StrEnum):
    NO_CONSENT = "no_consent"
    OPEN_COMPLAINT = "open_complaint"
    FREQUENCY_CAP = "frequency_cap"


def trigger_id(rule: str, customer_id: str, evidence: Iterable[str], about: str = "") -> str:
    """The idempotency key: rule + customer + the events that justify it (+ what it is
    about, when one event justifies several, e.g. an interest in two categories)."""
    return str(
        uuid.uuid5(TRIGGER_NAMESPACE, "|".join([rule, customer_id, about, *sorted(evidence)]))
    )


class Trigger(BaseModel):
    """One decision of a rule for a customer, as published and stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger_id: str
    rule: RuleName
    rule_type: str
    customer_id: str
    kind: Kind
    audience: Audience
    channel: str | None = Field(description="Suggested channel; for marketing, a consented one.")
    reason: str = Field(description="Why, in words a rep or a marketer reads.")
    evidence: tuple[str, ...] = Field(description="message_id of each event that justifies it.")
    created_at: AwareDatetime
    expires_at: AwareDatetime
    offer: str | None = Field(None, description="What to offer or do, e.g. a category.")
    suppressed: Suppression | None = None
    suppressed_reason: str | None = None
    contact: str | dict[str, Any] | None = Field(
        None,
        description="Marketing, on touchlog.triggers only: the channel's consented contact "
        "(the name and the channel's one detail), sealed with the customer's key "
        "(privacy.customer_keys), opened by a reader that holds the keys, '[erased]' once "
        "shredded; null when not consented or not held; absent when not looked up.",
    )

    def suppress(self, why: Suppression, reason: str) -> Trigger:
        return self.model_copy(update={"suppressed": why, "suppressed_reason": reason})

    def with_contact(self, contact: str | dict[str, Any] | None) -> Trigger:
        return self.model_copy(update={"contact": contact})

    def encode(self) -> bytes:
        """The record's JSON; ``contact`` only when one was set (null included)."""
        if "contact" in self.model_fields_set:
            return self.model_dump_json().encode()
        return self.model_dump_json(exclude={"contact"}).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> Trigger:
        return cls.model_validate_json(raw)
