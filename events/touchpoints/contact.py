"""How to address and reach a person: names, postal addresses, phones, emails.

Not touchpoints themselves: parts of ``profile.updated`` and ``letter.received``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

from events.envelope import Email, Model, Name, WrittenPhone
from events.rules import NO_NUL
from events.sensitivity import essential

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, e.g. ``FR``."""


class Title(StrEnum):
    MR = "Mr"
    MRS = "Mrs"
    MS = "Ms"
    MISS = "Miss"
    MX = "Mx"
    DR = "Dr"
    PROF = "Prof"
    REV = "Rev"
    SIR = "Sir"
    DAME = "Dame"


class PersonName(Model):
    title: Title | None = essential(None)
    given_name: Name | None = essential(None)
    middle_names: Name | None = essential(None)
    family_name: Name = essential()
    suffix: Annotated[str, StringConstraints(max_length=20, pattern=NO_NUL)] | None = essential(
        None
    )
    pronunciation: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = (
        essential(None, description="How to say the name, e.g. 'SHIV-awn NEE-uh-vuh'.")
    )

    def display(self) -> str:
        parts = (self.title, self.given_name, self.family_name)
        return " ".join(str(part) for part in parts if part)


class AddressUse(StrEnum):
    HOME = "home"
    WORK = "work"
    BILLING = "billing"
    DELIVERY = "delivery"


class PostalAddress(Model):
    use: AddressUse = essential(AddressUse.HOME)
    lines: tuple[Name, ...] = essential(
        (),
        max_length=4,
        description="Street lines, as the customer writes them; none when only the postcode "
        "is known.",
    )
    locality: Name | None = essential(None, description="Town or city, when known.")
    region: Name | None = essential(None)
    postal_code: (
        Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=NO_NUL)] | None
    ) = essential(None)
    country: CountryCode = essential()


class PhoneUse(StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"


class ContactPhone(Model):
    use: PhoneUse = essential()
    number: WrittenPhone = essential()
    primary: bool = essential(False)


class EmailUse(StrEnum):
    PERSONAL = "personal"
    WORK = "work"


class ContactEmail(Model):
    use: EmailUse = essential()
    address: Email = essential()
    primary: bool = essential(False)
