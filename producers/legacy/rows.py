"""One export row → one ``profile.updated``: identifiers in the subject, details in the payload.

A value that cannot be used (``-1`` as a phone, ``not given`` as an email) is left out and
reported; the row is rejected only when nothing trustworthy is left: no identifier, no
detail, or no knowing when it was true.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nameparser import HumanName
from pydantic import ValidationError

from events.envelope import ExternalId, Source, Subject
from events.touchpoints.contact import ContactEmail, ContactPhone, PersonName, Title
from events.touchpoints.profile import ProfileUpdated, ProfileUpdatedPayload
from producers.legacy.cells import (
    EMAIL,
    NAME,
    TITLES,
    Cells,
    Problem,
    primary_first,
    title_key,
    unique,
)
from producers.legacy.mapping import ExportMapping
from producers.legacy.phones import PhoneReader, ReadPhone

# Fixed forever: a row's event id is derived from it, so a re-import sends the same ids.
LEGACY_NAMESPACE = uuid.UUID("5c1b0e3a-6f43-4b8e-9a57-2f0f3d1c7a10")

__all__ = ["ImportedRow", "Problem", "RejectedRow", "RowConverter", "message_id"]


@dataclass(frozen=True, slots=True)
class ImportedRow:
    line: int
    event: ProfileUpdated
    left_out: tuple[Problem, ...]  # values that could not be used


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return f"line {self.line}: rejected: " + "; ".join(str(p) for p in self.problems)


def message_id(source: Source, record_key: str) -> str:
    """The event id of a record: the same (system, unit, record) always gives the same id."""
    name = f"{source.system}/{source.business_unit}/{record_key}"
    return str(uuid.uuid5(LEGACY_NAMESPACE, name))


class RowConverter:
    """Converts the rows of one file in order.

    It remembers the record numbers seen: a number repeated by mistake (or a junk one such
    as ``0``) must not give two rows one event id, which would drop the second as a duplicate.
    """

    def __init__(
        self,
        mapping: ExportMapping,
        source: Source,
        default_time: datetime,
        region: str | None = None,
    ) -> None:
        """``region``: phones are read as libphonenumber reads them there (None: as written)."""
        self.mapping = mapping
        self._phones = PhoneReader(region)
        self.source = source
        self.default_time = default_time
        self._nulls = frozenset({"", *(v.strip().casefold() for v in mapping.csv.null_values)})
        self._titles = TITLES | {title_key(k): v for k, v in mapping.titles.items()}
        self._seen: dict[str, int] = {}

    def convert(self, line: int, values: Mapping[str, str]) -> ImportedRow | RejectedRow:
        row = Cells({**values, **self.mapping.constants}, self._nulls)
        m = self.mapping
        occurred_at = self.default_time
        if m.last_modified is not None:
            try:
                occurred_at = row.timestamp(m.last_modified) or self.default_time
            except ValueError as exc:
                return RejectedRow(line, (Problem(m.last_modified.column, str(exc)),))
        external_ids = [
            ExternalId(type=c.type, id=value)
            for c in m.external_ids
            if (value := row.valid(c.column, NAME.validate_python, "an identifier"))
        ]
        emails = unique(
            ContactEmail(use=c.use, address=address)
            for c in m.emails
            if (address := row.valid(c.column, EMAIL.validate_python, "an email address"))
        )
        read: dict[str, tuple[ReadPhone, ContactPhone]] = {}
        for c in m.phones:
            if number := row.valid(c.column, self._phones.read, self._what_phone):
                read.setdefault(
                    number.key(), (number, ContactPhone(use=c.use, number=number.written))
                )
        phones = [contact for _, contact in read.values()]
        identifiers = [number.identifier() for number, _ in read.values()]
        if not (external_ids or emails or phones):
            columns = [c.column for c in m.external_ids] + [c.column for c in m.emails]
            columns += [c.column for c in m.phones]
            why = f"no identifier: {', '.join(columns)} blank or unusable"
            return RejectedRow(line, (*row.left_out, Problem("(row)", why)))
        details: dict[str, Any] = {
            "name": self._name(row),
            "emails": primary_first(emails),
            "phones": primary_first(phones),
            "addresses": tuple(a for c in m.addresses if (a := row.address(c))) or None,
            "date_of_birth": row.date(m.date_of_birth),
        }
        if not any(details.values()):
            why = "nothing but an identifier: no name, contact detail, address or birth date"
            return RejectedRow(line, (*row.left_out, Problem("(row)", why)))
        key = self._record_key(line, row, external_ids, occurred_at)
        try:
            event = ProfileUpdated(
                message_id=message_id(self.source, key),
                occurred_at=occurred_at,
                source=self.source,
                subject=Subject(
                    external_ids=tuple(external_ids),
                    email=emails[0].address if emails else None,
                    phone=identifiers[0] if identifiers else None,
                    phones=tuple(identifiers[1:11]),
                ),
                payload=ProfileUpdatedPayload(**details),
            )
        except ValidationError as exc:
            problems = [Problem("(row)", e["msg"]) for e in exc.errors(include_url=False)]
            return RejectedRow(line, (*row.left_out, *problems))
        return ImportedRow(line, event, tuple(row.left_out))

    def _record_key(
        self, line: int, row: Cells, external_ids: list[ExternalId], occurred_at: datetime
    ) -> str:
        """``ext:TYPE:ID[@last-modified]``, else ``line:N``: what names the row's event."""
        first = self.mapping.external_ids[0] if self.mapping.external_ids else None
        if first is None or not external_ids or external_ids[0].type != first.type:
            return f"line:{line}"
        key = f"ext:{first.type}:{external_ids[0].id}"
        if self.mapping.last_modified is not None:
            # A later export's changed record is a new fact, with its own id.
            key += f"@{occurred_at.isoformat()}"
        earlier = self._seen.setdefault(key, line)
        if earlier != line:
            why = f"{external_ids[0].id!r} is also on line {earlier}: this row is named by its line"
            row.left_out.append(Problem(first.column, why))
            return f"line:{line}"
        return key

    def _name(self, row: Cells) -> PersonName | None:
        columns = self.mapping.name
        if columns is None:
            return None
        if columns.full_name is not None:
            return self._full_name(row, columns.full_name)
        assert columns.family_name is not None  # noqa: S101  # NameColumns: one or the other
        family = row.valid(columns.family_name, NAME.validate_python, "a name")
        parts = {
            "given_name": row.valid(columns.given_name, NAME.validate_python, "a name"),
            "middle_names": row.valid(columns.middle_names, NAME.validate_python, "a name"),
            "title": row.valid(columns.title, self._title, "a known title"),
        }
        if family is None:
            if any(parts.values()):
                why = "no family name: the name is left out"
                row.left_out.append(Problem(columns.family_name, why))
            return None
        return PersonName(family_name=family, **parts)

    def _full_name(self, row: Cells, column: str) -> PersonName | None:
        """``Dr Aisha Baker``, ``Turner, Thomas``, ``Mr John Smith Jr``: read by nameparser."""
        written = row.text(column)
        if written is None:
            return None
        name = HumanName(written)
        given, middle, family = name.first or None, name.middle or None, name.last or None
        if family is None:  # one word: a family name more often than not
            given, family = None, given
        title = self._titles.get(title_key(name.title)) if name.title else None
        if family is None or (name.title and title is None):
            why = f"{written!r} is not a name I can split (title, given and family names)"
            row.left_out.append(Problem(column, why + "; left out"))
            return None
        try:
            return PersonName(
                title=title,
                given_name=given,
                middle_names=middle,
                family_name=family,
                suffix=name.suffix or None,
            )
        except ValidationError:
            row.left_out.append(Problem(column, f"{written!r} is not a name; left out"))
            return None

    @property
    def _what_phone(self) -> str:
        region = self._phones.region
        return "a phone number" + (f" in region {region}" if region else "")

    def _title(self, written: str) -> Title:
        title = self._titles.get(title_key(written))
        if title is None:
            raise ValueError(written)
        return title
