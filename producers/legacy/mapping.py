"""How a business unit's customer export maps onto ``profile.updated``: read from YAML.

    csv: {delimiter: ";", encoding: cp1252}
    external_ids: [{column: cust_no, type: retail_customer_no}]
    name: {title: civility, given_name: first_name, family_name: last_name}
    # or one column holding the whole name ("Dr Aisha Baker", "Turner, Thomas"):
    # name: {full_name: customer_name}
    emails: [{column: email}]
    phones: [{column: mobile, use: mobile}, {column: home_phone, use: home}]
    addresses: [{lines: [street], postal_code: zip, locality: city, default_country: FR}]
    # postcode only: [{postal_code: zip, default_country: GB}]; one line: [{single_line: addr, …}]
    constants: {country: FR}  # a column every row has, with this value
    date_of_birth: {column: birth_date, format: "%d/%m/%Y"}
    last_modified: {column: last_update, format: "%Y-%m-%d %H:%M:%S", timezone: Europe/Paris}

Every problem is reported with the key it is about (``phones.1.use: …``).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField

from events.documents import DocumentError, named_problems
from events.envelope import Channel
from events.touchpoints.contact import AddressUse, CountryCode, EmailUse, PhoneUse, Title
from events.touchpoints.profile import ProfileUpdated

Column = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
IdType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.\-]{0,99}$")]
"""An external id's kind, e.g. ``retail_customer_no``: lower-case, no ``:``."""

DEFAULT_NULL_VALUES = ("null", "none", "nil", "n/a", "na", "-", "#n/a")


class MappingError(DocumentError):
    """The mapping is unusable; each problem names its key."""


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CsvFormat(_Part):
    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] | None = None
    """None: guessed from the header line among ``, ; tab |``."""
    quotechar: Annotated[str, StringConstraints(min_length=1, max_length=1)] = '"'
    encoding: str = "utf-8-sig"
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES
    """Cell values meaning "no value" (any case); a blank cell always does."""

    @field_validator("encoding")
    @classmethod
    def _line_based(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"{encoding!r} is not an encoding Python knows") from None
        # Lines are split on b"\n" before decoding, so a bad byte spoils one row, not the file.
        if b"\n;,\t|\"'".decode(encoding, errors="replace") != "\n;,\t|\"'":
            raise ValueError(f"{encoding!r} is not ASCII-compatible: convert the file to UTF-8")
        return encoding


class ExternalIdColumn(_Part):
    column: Column
    type: IdType


class NameColumns(_Part):
    family_name: Column | None = None
    title: Column | None = None
    given_name: Column | None = None
    middle_names: Column | None = None
    full_name: Column | None = None
    """The whole name in one cell, in any usual order, parsed by ``nameparser``."""

    @model_validator(mode="after")
    def _one_way(self) -> NameColumns:
        if self.full_name is None and self.family_name is None:
            raise ValueError("give family_name (with given_name, …) or full_name")
        if self.full_name is not None and self.family_name is not None:
            raise ValueError("give family_name or full_name, not both")
        return self


class EmailColumn(_Part):
    column: Column
    use: EmailUse = EmailUse.PERSONAL


class PhoneColumn(_Part):
    column: Column
    use: PhoneUse


class AddressColumns(_Part):
    use: AddressUse = AddressUse.HOME
    lines: tuple[Column, ...] = PydanticField((), max_length=4)
    single_line: Column | None = None
    """The whole address in one cell, parts separated by commas; read as its street lines."""
    locality: Column | None = None
    postal_code: Column | None = None
    region: Column | None = None
    country: Column | None = None
    default_country: CountryCode | None = None
    """For rows whose country cell is blank, or when the export has no country column."""

    @model_validator(mode="after")
    def _has_a_country(self) -> AddressColumns:
        if self.country is None and self.default_country is None:
            raise ValueError("give a country column or a default_country (e.g. FR)")
        if not (self.lines or self.single_line or self.locality or self.postal_code):
            raise ValueError("give lines, single_line, locality or postal_code")
        return self


class DateColumn(_Part):
    column: Column
    format: str | tuple[str, ...] | None = None
    """A ``strptime`` format, e.g. ``%d/%m/%Y``, or several tried in order; None: ISO 8601."""

    def formats(self) -> tuple[str, ...] | None:
        return (self.format,) if isinstance(self.format, str) else self.format


class TimestampColumn(DateColumn):
    timezone: str = "UTC"
    """For values written without an offset."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not a time zone, e.g. 'Europe/Paris' or 'UTC'") from None
        return zone


class ExportMapping(_Part):
    """Which column holds what. At least one identifier column is required."""

    csv: CsvFormat = CsvFormat()
    channel: Channel = ProfileUpdated.default_channel
    """Where the unit's records were captured."""
    external_ids: tuple[ExternalIdColumn, ...] = ()
    """The first is the record's own number: it names the row's event (see ``message_id``)."""
    name: NameColumns | None = None
    emails: tuple[EmailColumn, ...] = ()
    phones: tuple[PhoneColumn, ...] = ()
    addresses: tuple[AddressColumns, ...] = ()
    date_of_birth: DateColumn | None = None
    last_modified: TimestampColumn | None = None
    titles: dict[str, Title] = {}
    """Written titles beyond the usual ones (``Mr``, ``M.``, ``Mme``, …), e.g. ``Herr: Mr``."""
    region: CountryCode | None = None
    """Where the export's phone numbers without a country code are from; ``--region`` wins."""
    constants: dict[Column, str] = {}
    """Columns every row of this import has, with one value, e.g. ``{country: GB}``."""

    @model_validator(mode="after")
    def _has_an_identifier(self) -> ExportMapping:
        if not (self.external_ids or self.emails or self.phones):
            raise ValueError("map at least one identifier: external_ids, emails or phones")
        return self

    def columns(self) -> dict[str, str]:
        """Every column the mapping reads, by the key that names it (``addresses.0.locality``)."""
        found: dict[str, str] = {}

        def walk(value: Any, key: str) -> None:
            if isinstance(value, _Part) and not isinstance(value, CsvFormat):
                for name in type(value).model_fields:
                    walk(getattr(value, name), f"{key}.{name}" if key else name)
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    walk(item, f"{key}.{i}")
            elif isinstance(value, str) and _is_column_key(key):
                found[key] = value

        walk(self, "")
        return found

    def check_header(self, header: Sequence[str]) -> list[str]:
        """Problems with a file's header: columns the mapping names that it lacks."""
        problems = [
            f"{name!r} appears more than once in the header"
            for name in sorted({h for h in header if header.count(h) > 1})
        ]
        present = set(header) | set(self.constants)
        problems += [
            f"{key} names column {column!r}, which the header lacks (it has: {', '.join(header)})"
            for key, column in self.columns().items()
            if column not in present
        ]
        return problems


def _is_column_key(key: str) -> bool:
    not_columns = {"type", "use", "format", "timezone", "default_country", "channel"}
    return (
        key != "region"
        and not_columns.isdisjoint(key.split("."))
        and not key.startswith(("csv", "titles", "constants"))
    )


def parse_mapping(data: Any, source: str = "mapping") -> ExportMapping:
    """The mapping a YAML document describes; MappingError lists every problem by key."""
    if not isinstance(data, dict):
        raise MappingError(source, ["expected a mapping of keys (csv, external_ids, name, …)"])
    try:
        return ExportMapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(source, named_problems(exc)) from None
