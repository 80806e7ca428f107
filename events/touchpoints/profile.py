"""The customer's own details and what they allow us to do with them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints, model_validator
from pydantic.config import JsonDict

from events.envelope import Channel, Model, Name, UtcDatetime
from events.sensitivity import essential, restricted, service
from events.touchpoints.base import PaymentMethod, ShortText, Touchpoint
from events.touchpoints.contact import ContactEmail, ContactPhone, PersonName, PostalAddress


class IncomeBand(StrEnum):
    UNDER_20K = "under_20k"
    FROM_20K_TO_40K = "20k_40k"
    FROM_40K_TO_70K = "40k_70k"
    FROM_70K_TO_100K = "70k_100k"
    OVER_100K = "over_100k"


class EducationLevel(StrEnum):
    SECONDARY = "secondary"
    VOCATIONAL = "vocational"
    BACHELOR = "bachelor"
    POSTGRADUATE = "postgraduate"
    DOCTORATE = "doctorate"


class MaritalStatus(StrEnum):
    SINGLE = "single"
    MARRIED = "married"
    CIVIL_PARTNERSHIP = "civil_partnership"
    SEPARATED = "separated"
    DIVORCED = "divorced"
    WIDOWED = "widowed"


class Household(Model):
    adults: int = restricted(ge=1, le=20)
    children: int = restricted(0, ge=0, le=20)
    marital_status: MaritalStatus | None = restricted(None)


class VerificationKind(StrEnum):
    MEMORABLE_WORD = "memorable_word"
    MEMORABLE_DATE = "memorable_date"


Argon2Hash = Annotated[
    str, StringConstraints(min_length=20, max_length=300, pattern=r"^\$argon2id\$[!-~]+$")
]


class VerificationSetPayload(Model):
    """How a caller proves who they are (seed 003). Only the argon2id hash of the answer
    (``api.verification.hash_answer``): the answer itself never enters the log."""

    kind: VerificationKind = restricted()
    answer_hash: Argon2Hash = restricted(description="argon2id hash of the normalised answer.")


def changes_something(names: Iterable[str]) -> JsonDict:
    """The profile update's rule in JSON Schema: one of ``names`` at least, not null."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names
        ]
    }


def _changes_something(schema: JsonDict) -> None:
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema.update(changes_something(properties))


class ProfileUpdatedPayload(Model):
    """What changed; an absent field is unchanged. Lists replace the previous list."""

    # The rule in JSON Schema: one field at least is given, and not null.
    model_config = ConfigDict(json_schema_extra=_changes_something)

    name: PersonName | None = essential(None)
    addresses: tuple[PostalAddress, ...] | None = essential(None, max_length=20)
    phones: tuple[ContactPhone, ...] | None = essential(None, max_length=20)
    emails: tuple[ContactEmail, ...] | None = essential(None, max_length=20)
    preferred_channel: Channel | None = essential(None, personal=False)
    preferred_payment_method: PaymentMethod | None = service(None)
    dispatch_instructions: ShortText | None = service(
        None, personal=True, description="e.g. 'leave parcels with the neighbour at no. 12'."
    )
    date_of_birth: date | None = restricted(None)
    income_band: IncomeBand | None = restricted(None)
    household: Household | None = restricted(None)
    education: EducationLevel | None = restricted(None)

    @model_validator(mode="after")
    def _changes_something(self) -> ProfileUpdatedPayload:
        if not self.changed_fields():
            raise ValueError("a profile update needs at least one changed field")
        return self

    def changed_fields(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class ProfileUpdated(Touchpoint):
    """The customer's details changed: told by them, or corrected by a rep."""

    default_channel = Channel.WEB
    type: Literal["profile.updated"] = "profile.updated"
    payload: ProfileUpdatedPayload

    def summary(self) -> str:
        # Names of what changed only: the values may be restricted.
        changed = ", ".join(name.replace("_", " ") for name in self.payload.changed_fields())
        return f"Profile updated: {changed}"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    PROFILING = "profiling"
    THIRD_PARTY_SHARING = "third_party_sharing"
    RESEARCH = "research"
    SERVICE_MESSAGES = "service_messages"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


class LegalBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGITIMATE_INTEREST = "legitimate_interest"
    LEGAL_OBLIGATION = "legal_obligation"


class ConsentChangedPayload(Model):
    purpose: ConsentPurpose = essential(personal=False)
    channel: Channel | None = essential(
        None, personal=False, description="The channel covered; None: all."
    )
    status: ConsentStatus = essential(personal=False)
    legal_basis: LegalBasis = essential(personal=False)
    captured_via: Name = essential(
        personal=False, description="e.g. 'web preference centre', 'call'."
    )
    proof_reference: Name | None = essential(
        None,
        personal=False,
        description="Where the proof is kept: a call recording, a form submission.",
    )
    expires_at: UtcDatetime | None = essential(None, personal=False)


class ConsentChanged(Touchpoint):
    """The customer granted, denied or revoked a permission."""

    default_channel = Channel.WEB
    type: Literal["consent.changed"] = "consent.changed"
    payload: ConsentChangedPayload

    def summary(self) -> str:
        p = self.payload
        where = f"by {p.channel.value}" if p.channel else "on every channel"
        return f"Consent to {p.purpose.value.replace('_', ' ')} {where} {p.status.value}"


class VerificationSet(Touchpoint):
    """The customer chose (or changed) the memorable word or date a rep checks when they
    call; the event carries its argon2id hash, never the answer."""

    default_channel = Channel.WEB
    type: Literal["verification.set"] = "verification.set"
    payload: VerificationSetPayload

    def summary(self) -> str:
        kind = self.payload.kind  # "[erased]" once shredded
        return f"Verification set: {getattr(kind, 'value', kind).replace('_', ' ')}"


TYPES: tuple[type[Touchpoint], ...] = (ProfileUpdated, ConsentChanged, VerificationSet)
