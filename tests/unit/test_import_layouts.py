"""What a mapping can say about real export layouts: full names, postcode-only and one-line
addresses, several phones (each an identifier), constants, several date formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml

from events.envelope import Channel, Source, Subject
from events.touchpoints.contact import Title
from producers.legacy import ImportedRow, RowConverter, parse_mapping

SOURCE = Source(system="crm", business_unit="retail", channel=Channel.STORE)
AT = datetime(2024, 5, 1, tzinfo=UTC)
MAPPING = """
external_ids: [{column: num, type: crm_no}]
name: {full_name: name}
phones: [{column: tel, use: home}, {column: mob, use: mobile}, {column: work, use: work}]
addresses: [{postal_code: pc, country: country}]
date_of_birth: {column: born, format: ["%d/%m/%Y", "%Y-%m-%d"]}
constants: {country: GB}
"""


def _row(region: str | None = "GB", text: str = MAPPING, **cells: str) -> ImportedRow:
    values = {"num": "1", "name": "", "tel": "", "mob": "", "work": "", "pc": "", "born": ""}
    converter = RowConverter(parse_mapping(yaml.safe_load(text)), SOURCE, AT, region)
    outcome = converter.convert(2, values | cells)
    assert isinstance(outcome, ImportedRow), outcome
    return outcome


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Aisha Baker", (None, "Aisha", None, "Baker", None)),
        ("Turner, Thomas", (None, "Thomas", None, "Turner", None)),
        ("Dr Ann Marie Lee Jr", (Title.DR, "Ann", "Marie", "Lee", "Jr")),
        ("Mrs. O'Neill", (Title.MRS, None, None, "O'Neill", None)),
        ("Madonna", (None, None, None, "Madonna", None)),
    ],
)
def test_a_full_name_column_is_split(written: str, expected: tuple[Any, ...]) -> None:
    name = _row(name=written).event.payload.name
    assert name is not None
    assert (name.title, name.given_name, name.middle_names, name.family_name, name.suffix) == (
        expected
    )


@pytest.mark.parametrize(
    "written",
    [
        "(0207) 946-1234",
        "0044 20 7946 1234",
        "+44 (0)20 7946 1234",
        "020.7946.1234",
        "(+44) 2079461234",
    ],
)
def test_every_usual_written_phone_is_kept_and_identifies(written: str) -> None:
    row = _row(tel=written)
    assert row.event.subject.phone == "+442079461234"
    assert row.event.payload.phones is not None
    assert row.event.payload.phones[0].number == written
    assert row.left_out == ()


def test_a_form_the_contract_cannot_hold_is_kept_in_e164() -> None:
    row = _row(tel="+(44) 20 7946 1234")
    assert [p.number for p in row.event.payload.phones or ()] == ["+442079461234"]


def test_every_phone_is_an_identifier_each_with_its_use() -> None:
    row = _row(tel="020 7946 1234", mob="07400 123456", work="(0161) 496 0000")
    subject = row.event.subject
    assert (subject.phone, subject.phones) == ("+442079461234", ("+447400123456", "+441614960000"))
    assert [(p.use, p.primary) for p in row.event.payload.phones or ()] == [
        ("home", True),
        ("mobile", False),
        ("work", False),
    ]


def test_the_resolver_reads_every_subject_phone() -> None:
    from projections.identity.rules import IdentityRules

    subject = Subject(phone="020 7946 1234", phones=("07400 123456",))
    found, _ = IdentityRules(default_region="GB").identifiers_of(subject)
    assert {i.key for i in found} == {"phone:+442079461234", "phone:+447400123456"}


def test_two_forms_of_one_number_are_one_phone() -> None:
    row = _row(tel="020 7946 1234", mob="+44 20 7946 1234")
    assert len(row.event.payload.phones or ()) == 1
    assert row.event.subject.phones == ()


def test_a_number_not_valid_in_the_region_is_left_out_by_its_column() -> None:
    row = _row(tel="12345", mob="07400 123456")
    assert [str(p) for p in row.left_out] == [
        "tel: '12345' is not a phone number in region GB; left out"
    ]


def test_a_postcode_alone_is_an_address_and_constants_fill_columns() -> None:
    addresses = _row(pc="SW1A 1AA", tel="020 7946 1234").event.payload.addresses
    assert addresses is not None
    assert (addresses[0].lines, addresses[0].postal_code, addresses[0].country) == (
        (),
        "SW1A 1AA",
        "GB",
    )


def test_a_single_line_address_becomes_its_lines() -> None:
    text = MAPPING.replace(
        "{postal_code: pc, country: country}", "{single_line: pc, default_country: GB}"
    )
    address = _row(text=text, pc="1 High St, Flat 2, Leeds, LS1 1AA").event.payload.addresses
    assert address is not None
    assert address[0].lines == ("1 High St", "Flat 2", "Leeds", "LS1 1AA")


@pytest.mark.parametrize("born", ["03/04/1980", "1980-04-03"])
def test_a_date_column_may_have_several_formats(born: str) -> None:
    assert _row(born=born, tel="020 7946 1234").event.payload.date_of_birth == date(1980, 4, 3)
