"""What every string may hold, and the rules a JSON Schema cannot say.

Each type's contract lists, as ``x-rules``, the rules its JSON Schema cannot express
(a comparison between two fields, a sum); the models enforce them, and so does
``touchlog schemas validate``. A model that breaks one names it in its error, so a
producer can look the rule up in the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_NUL = r"^[^\x00]*$"
"""Text PostgreSQL can store: anything but NUL (``\\u0000``), which text and jsonb refuse."""

# What the reader strips from a name and what ``\S`` means to it (Unicode White_Space),
# spelled out because JSON Schema validators' ``\s`` differ: ECMA's has U+FEFF and lacks
# U+0085, Python's has U+001C-U+001F. With the class written out, every engine agrees.
WHITESPACE = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

NAME = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"
"""A name: something other than white space, and no NUL."""

EMAIL = rf"^[^@\x00{WHITESPACE}]+@[^@\x00{WHITESPACE}]+\.[^@\x00{WHITESPACE}]+$"
URL = rf"^https?://[^\x00{WHITESPACE}]+$"


@dataclass(frozen=True, slots=True)
class ContractRule:
    """A rule of a type's contract that its JSON Schema cannot express."""

    name: str
    description: str

    def broken(self, detail: str) -> ValueError:
        """The error a model raises when an event breaks this rule."""
        return ValueError(f"{detail} (x-rule {self.name})")

    def as_schema(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description}


UNICODE_TEXT = ContractRule(
    "unicode-text",
    "Every string is Unicode text: an escape \\ud800-\\udfff that is not half of a "
    "surrogate pair is refused. (NUL, \\u0000, is refused too; each string's pattern says so.)",
)
DATES_IN_RANGE = ContractRule(
    "dates-in-range",
    "Dates, and date-times once converted to UTC, lie between 0001-01-01 and 9999-12-31; "
    "a leap second (second 60) is refused.",
)
EVERY_TYPE = (UNICODE_TEXT, DATES_IN_RANGE)
"""Rules of every type's contract."""
