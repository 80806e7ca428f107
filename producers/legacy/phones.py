"""Phones as an import reads them: any written form libphonenumber reads for the region.

The payload keeps the number as the export wrote it; the subject gets its E.164 form, so the
resolver reads it the same whatever its own default region is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from pydantic import TypeAdapter

from events.envelope import WrittenPhone

PHONE: TypeAdapter[str] = TypeAdapter(WrittenPhone)
# The resolver's rule too: letters would be read as a keypad ("ext 12" becomes digits).
_WRITTEN = re.compile(r"[0-9\s.\-()/+]+")
_PUNCTUATION = re.compile(r"[\s.\-()/]")


@dataclass(frozen=True, slots=True)
class ReadPhone:
    written: str
    """As kept in the payload: the export's form, or E.164 if the contract cannot hold that."""
    e164: str | None
    """None when the import has no region to read numbers with."""

    def identifier(self) -> str:
        return self.e164 or self.written

    def key(self) -> str:
        """Two forms of one number have one key."""
        return self.e164 or "".join(c for c in self.written if c.isdigit() or c == "+")


class PhoneReader:
    """Reads written phone numbers for one region (``--region``, else the default region)."""

    def __init__(self, region: str | None) -> None:
        self.region = region

    def read(self, value: str) -> ReadPhone:
        """The number, or ValueError if it is not one (for the region, when there is one)."""
        if self.region is None:
            return ReadPhone(PHONE.validate_python(value), None)
        if len(value) > 60 or not _WRITTEN.fullmatch(value):
            raise ValueError(value)
        try:
            number = phonenumbers.parse(_PUNCTUATION.sub("", value), self.region)
        except phonenumbers.NumberParseException:
            raise ValueError(value) from None
        if not phonenumbers.is_valid_number(number):
            raise ValueError(value)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        try:
            written = PHONE.validate_python(value)
        except ValueError:
            written = e164
        return ReadPhone(written, e164)
