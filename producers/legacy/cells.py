"""Reading one row's cells into event values; an unusable value is left out and reported."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from events.envelope import Email, Name, WrittenPhone
from events.touchpoints.contact import ContactEmail, CountryCode, PostalAddress, Title
from producers.legacy.mapping import AddressColumns, DateColumn, TimestampColumn

T = TypeVar("T")
EMAIL: TypeAdapter[str] = TypeAdapter(Email)
PHONE: TypeAdapter[str] = TypeAdapter(WrittenPhone)
NAME: TypeAdapter[str] = TypeAdapter(Name)
_COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)

TITLES = {
    **{t.value.casefold(): t for t in Title},
    "m": Title.MR,
    "monsieur": Title.MR,
    "mme": Title.MRS,
    "madame": Title.MRS,
    "mlle": Title.MISS,
    "mademoiselle": Title.MISS,
    "doctor": Title.DR,
    "docteur": Title.DR,
    "professor": Title.PROF,
    "professeur": Title.PROF,
    "reverend": Title.REV,
}


def title_key(written: str) -> str:
    """``M.``, ``m`` and `` M `` are one title."""
    return written.strip().casefold().rstrip(".")


@dataclass(frozen=True, slots=True)
class Problem:
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.column}: {self.message}"


class Cells:
    """A row's cells by column, and the values that had to be left out of it."""

    def __init__(self, cells: Mapping[str, str], nulls: frozenset[str]) -> None:
        self.cells = cells
        self.nulls = nulls
        self.left_out: list[Problem] = []

    def text(self, column: str | None) -> str | None:
        """The trimmed value; None for a blank cell or a "no value" marker (``null``, ``-``)."""
        if column is None:
            return None
        value = self.cells.get(column, "").strip()
        return None if value.casefold() in self.nulls else value

    def valid(self, column: str | None, check: Callable[[str], T], what: str) -> T | None:
        """``check(value)``, or None (and a problem reported) if it raises."""
        value = self.text(column)
        if value is None or column is None:
            return None
        try:
            return check(value)
        except (ValidationError, ValueError):
            self.left_out.append(Problem(column, f"{value!r} is not {what}; left out"))
            return None

    def address(self, columns: AddressColumns) -> PostalAddress | None:
        lines = [value for c in columns.lines if (value := self.text(c))]
        if single := self.text(columns.single_line):
            parts = [part.strip() for part in single.split(",") if part.strip()]
            lines += [*parts[:3], ", ".join(parts[3:])] if len(parts) > 4 else parts
        locality, postal_code = self.text(columns.locality), self.text(columns.postal_code)
        country = self.valid(
            columns.country, lambda v: _COUNTRY.validate_python(v.upper()), "a country code"
        )
        if not (lines or locality or postal_code):
            return None
        written = ", ".join(v for v in (*lines, postal_code, locality) if v)
        country = country or columns.default_country
        # A town alone says too little to be an address; a postcode alone is one (UK, NL, …).
        missing = [] if lines or postal_code else ["a street line or a postcode"]
        missing += [] if country else ["a country"]
        if missing:
            why = f"address {written!r} lacks {' and '.join(missing)}; left out"
            key = columns.locality or columns.postal_code or columns.single_line or "(address)"
            self.left_out.append(Problem(key, why))
            return None
        try:
            return PostalAddress(
                use=columns.use,
                lines=tuple(lines[:4]),
                locality=locality,
                postal_code=postal_code,
                region=self.text(columns.region),
                country=country,
            )
        except ValidationError:
            why = f"address {written!r} is unusable (too long?); left out"
            key = columns.locality or columns.postal_code or columns.single_line or "(address)"
            self.left_out.append(Problem(key, why))
            return None

    def date(self, column: DateColumn | None) -> date | None:
        if column is None:
            return None
        return self.valid(column.column, lambda v: _parse_date(v, column.formats()), "a date")

    def timestamp(self, column: TimestampColumn) -> datetime | None:
        """The cell's time in UTC; ValueError if it is written but unreadable."""
        value = self.text(column.column)
        if value is None:
            return None
        formats = column.formats()
        try:
            if formats is None:
                moment = datetime.fromisoformat(value)
            else:
                moment = _first_reading(value, formats, datetime.strptime)
        except ValueError:
            expected = " or ".join(formats or ("ISO 8601",))
            raise ValueError(f"{value!r} is not a time written {expected}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(column.timezone))
        return moment.astimezone(UTC)


def _parse_date(value: str, formats: tuple[str, ...] | None) -> date:
    if formats is None:
        return date.fromisoformat(value)
    parsed = _first_reading(value, formats, time.strptime)
    return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)


def _first_reading(value: str, formats: tuple[str, ...], read: Callable[[str, str], T]) -> T:
    """``read(value, format)`` with the first format that reads it; ValueError if none does."""
    for fmt in formats[:-1]:
        try:
            return read(value, fmt)
        except ValueError:
            continue
    return read(value, formats[-1])


def unique(items: Any) -> list[Any]:
    """The first of each value: emails compared case-insensitively, phones by their digits."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if isinstance(item, ContactEmail):
            key = item.address.casefold()
        else:
            key = "".join(c for c in item.number if c.isdigit() or c == "+")
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def primary_first(items: list[Any]) -> tuple[Any, ...] | None:
    """The first contact detail of a row is its primary one."""
    if not items:
        return None
    return (items[0].model_copy(update={"primary": True}), *items[1:])
