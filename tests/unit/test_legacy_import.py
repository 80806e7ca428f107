"""Legacy import without services: the mapping's validation, row → event, reading, resuming."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from events import Touchpoint
from events.documents import DocumentError
from events.envelope import Channel, Source
from events.touchpoints.profile import ProfileUpdated
from producers.legacy import (
    ExportMapping,
    ImportedRow,
    ImportOptions,
    MappingError,
    RejectedRow,
    RowConverter,
    import_export,
    message_id,
    parse_mapping,
)
from projections.identity import report
from touchlog.config_files import parse_yaml

FULL = """
csv: {delimiter: ";"}
channel: store
external_ids: [{column: cust_no, type: retail_customer_no}]
name: {title: civility, given_name: first_name, family_name: last_name}
emails: [{column: email}, {column: email2, use: work}]
phones: [{column: mobile, use: mobile}, {column: home, use: home}]
addresses: [{lines: [street, street2], postal_code: zip, locality: city, default_country: FR}]
date_of_birth: {column: born, format: "%d/%m/%Y"}
last_modified: {column: updated, format: "%Y-%m-%d %H:%M", timezone: Europe/Paris}
titles: {Herr: Mr}
"""
SOURCE = Source(system="retail-crm", business_unit="retail", channel=Channel.STORE)
IMPORTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
ROW = {
    "cust_no": "R100",
    "civility": "Mme",
    "first_name": "Hélène",
    "last_name": "Dupré",
    "email": " Helene.Dupre@Example.FR ",
    "email2": "",
    "mobile": "06 28 23 04 55",
    "home": "+33 1 40 20 50 50",
    "street": "12 rue de la Paix",
    "street2": "",
    "zip": "75002",
    "city": "Paris",
    "born": "03/04/1980",
    "updated": "2024-07-01 10:30",
}


def _parse(text: str, source: str = "mapping") -> ExportMapping:
    return parse_mapping(parse_yaml(text, source), source)


def _convert(row: dict[str, str], line: int = 2, mapping: str = FULL, **changes: str):
    converter = RowConverter(_parse(mapping), SOURCE, IMPORTED_AT)
    return converter.convert(line, {**row, **changes})


def _imported(row: dict[str, str], **changes: str) -> ImportedRow:
    outcome = _convert({**row, **changes})
    assert isinstance(outcome, ImportedRow), outcome
    return outcome


# --- the mapping -----------------------------------------------------------------------


def test_a_full_mapping_names_every_column_it_reads_by_its_key() -> None:
    mapping = _parse(FULL)
    assert mapping.columns() == {
        "external_ids.0.column": "cust_no",
        "name.family_name": "last_name",
        "name.title": "civility",
        "name.given_name": "first_name",
        "emails.0.column": "email",
        "emails.1.column": "email2",
        "phones.0.column": "mobile",
        "phones.1.column": "home",
        "addresses.0.lines.0": "street",
        "addresses.0.lines.1": "street2",
        "addresses.0.locality": "city",
        "addresses.0.postal_code": "zip",
        "date_of_birth.column": "born",
        "last_modified.column": "updated",
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("emails: [{column: e}]\nname: {given_name: g}", "name: give family_name"),
        (
            "emails: [{column: e}]\nname: {full_name: n, family_name: f}",
            "name: give family_name or full_name, not both",
        ),
        ("emails: [{column: e}]\naddresses: [{default_country: GB}]", "addresses.0: give lines"),
        ("emails: [{column: e}]\nphone: [{column: p}]", "phone: Extra inputs are not permitted"),
        ("phones: [{column: p, use: cell}]", "phones.0.use: Input should be 'mobile'"),
        ("phones: [{column: p}]", "phones.0.use: Field required"),
        ("external_ids: [{column: n, type: 'Retail:No'}]", "external_ids.0.type: String should"),
        ("name: {family_name: f}", "(top level): map at least one identifier"),
        ("emails: [{column: e}]\ncsv: {encoding: utf-16}", "csv.encoding: 'utf-16' is not ASCII"),
        ("emails: [{column: e}]\ncsv: {encoding: klingon}", "csv.encoding: 'klingon' is not an"),
        ("emails: [{column: e}]\ncsv: {delimiter: ';;'}", "csv.delimiter: String should have"),
        (
            "emails: [{column: e}]\nlast_modified: {column: m, timezone: Mars/Base}",
            "last_modified.timezone: 'Mars/Base' is not a time zone",
        ),
        (
            "emails: [{column: e}]\naddresses: [{lines: [a], locality: b}]",
            "addresses.0: give a country column or a default_country",
        ),
        ("emails: [{column: e}]\ntitles: {Herr: Lord}", "titles.Herr: Input should be 'Mr'"),
        ("emails: [{column: e}]\nemails: [", "not valid YAML"),
        ("- emails", "expected a mapping of keys"),
    ],
)
def test_mapping_problems_name_the_key(text: str, problem: str) -> None:
    with pytest.raises(DocumentError) as caught:
        _parse(text, "shop.yaml")
    assert str(caught.value).startswith("shop.yaml: ")
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    text = "phones: [{column: p, use: cell}]\nname: {given_name: g}\nextra: 1"
    with pytest.raises(DocumentError) as caught:
        _parse(text)
    keys = sorted(p.split(":")[0] for p in caught.value.problems)
    assert keys == ["extra", "name", "phones.0.use"]


def test_the_header_check_names_the_key_of_each_missing_column() -> None:
    mapping = _parse(FULL)
    header = [c for c in ROW if c not in ("zip", "born")] + ["city"]
    problems = mapping.check_header(header)
    assert problems[0] == "'city' appears more than once in the header"
    assert problems[1].startswith("addresses.0.postal_code names column 'zip', which the header")
    assert problems[2].startswith("date_of_birth.column names column 'born'")
    assert len(problems) == 3


# --- one row → one profile.updated -------------------------------------------------------


def test_a_row_becomes_a_profile_update_with_its_identifiers_as_written() -> None:
    event = _imported(ROW).event
    assert event.type == "profile.updated"
    assert event.source == SOURCE
    assert event.occurred_at == datetime(2024, 7, 1, 8, 30, tzinfo=UTC)  # Paris summer time
    subject = event.subject
    assert [(e.type, e.id) for e in subject.external_ids] == [("retail_customer_no", "R100")]
    assert subject.email == "Helene.Dupre@Example.FR"  # trimmed; case is the resolver's job
    assert subject.phone == "06 28 23 04 55"
    p = event.payload
    assert p.name is not None
    assert (p.name.title, p.name.given_name, p.name.family_name) == ("Mrs", "Hélène", "Dupré")
    assert p.emails is not None
    assert [(e.address, e.primary) for e in p.emails] == [("Helene.Dupre@Example.FR", True)]
    assert p.phones is not None
    assert [(t.number, t.use, t.primary) for t in p.phones] == [
        ("06 28 23 04 55", "mobile", True),
        ("+33 1 40 20 50 50", "home", False),
    ]
    assert p.addresses is not None
    [address] = p.addresses
    assert (address.lines, address.postal_code, address.locality, address.country) == (
        ("12 rue de la Paix",),
        "75002",
        "Paris",
        "FR",
    )
    assert p.date_of_birth == date(1980, 4, 3)


def test_a_re_import_gives_the_same_event_ids_and_another_unit_other_ones() -> None:
    first, again = _imported(ROW).event, _imported(ROW).event
    assert first.message_id == again.message_id
    key = f"ext:retail_customer_no:R100@{first.occurred_at.isoformat()}"
    assert first.message_id == message_id(SOURCE, key)
    elsewhere = Source(system="retail-crm", business_unit="outlet", channel=Channel.STORE)
    assert message_id(elsewhere, key) != first.message_id
    # A later export's changed record is a new fact.
    assert _imported(ROW, updated="2025-01-01 09:00").event.message_id != first.message_id


def test_without_a_record_number_the_line_names_the_event() -> None:
    mapping = FULL.replace("external_ids: [{column: cust_no, type: retail_customer_no}]\n", "")
    outcome = _convert(ROW, line=17, mapping=mapping)
    assert isinstance(outcome, ImportedRow)
    assert outcome.event.message_id == message_id(SOURCE, "line:17")
    assert outcome.event.subject.external_ids == ()


def test_a_record_number_repeated_in_the_file_does_not_share_an_event_id() -> None:
    converter = RowConverter(_parse(FULL), SOURCE, IMPORTED_AT)
    first = converter.convert(2, ROW)
    second = converter.convert(9, {**ROW, "first_name": "Ann"})
    assert isinstance(first, ImportedRow)
    assert isinstance(second, ImportedRow)
    assert second.event.message_id == message_id(SOURCE, "line:9") != first.event.message_id
    [problem] = second.left_out
    assert str(problem) == "cust_no: 'R100' is also on line 2: this row is named by its line"
    # Converting the first row again (a resumed run reads it again) keeps its id.
    again = converter.convert(2, ROW)
    assert isinstance(again, ImportedRow)
    assert again.event.message_id == first.event.message_id


def test_junk_values_are_left_out_and_reported_by_column() -> None:
    row = _imported(
        ROW, email="NULL", email2="not given", mobile="-1", civility="Esq", born="31/02/1980"
    )
    assert row.event.subject.email is None
    assert row.event.subject.phone == "+33 1 40 20 50 50"  # the next usable phone
    assert row.event.payload.name is not None
    assert row.event.payload.name.title is None
    assert row.event.payload.date_of_birth is None
    assert [str(p) for p in row.left_out] == [
        "email2: 'not given' is not an email address; left out",
        "mobile: '-1' is not a phone number; left out",
        "civility: 'Esq' is not a known title; left out",
        "born: '31/02/1980' is not a date; left out",
    ]


def test_a_well_formed_junk_number_is_kept_for_the_resolver_to_refuse() -> None:
    # Whether a number is junk or shared is the identity rules' call, not the importer's.
    assert _imported(ROW, mobile="0000000000").event.subject.phone == "0000000000"


def test_titles_are_read_in_their_usual_spellings_and_the_mapping_s_own() -> None:
    for written, title in (("M.", "Mr"), ("mlle", "Miss"), ("Dr.", "Dr"), ("Herr", "Mr")):
        name = _imported(ROW, civility=written).event.payload.name
        assert name is not None
        assert name.title == title


def test_an_incomplete_address_is_left_out_not_the_row() -> None:
    row = _imported(ROW, street="", street2="", zip="")
    assert row.event.payload.addresses is None
    assert [str(p) for p in row.left_out] == [
        "city: address 'Paris' lacks a street line or a postcode; left out"
    ]


def test_a_row_without_a_usable_identifier_is_rejected_with_its_line() -> None:
    outcome = _convert(ROW, line=41, cust_no="", email="n/a", email2="", mobile="-1", home="")
    assert isinstance(outcome, RejectedRow)
    assert str(outcome) == (
        "line 41: rejected: mobile: '-1' is not a phone number; left out; "
        "(row): no identifier: cust_no, email, email2, mobile, home blank or unusable"
    )


def test_a_row_with_nothing_but_an_identifier_is_rejected() -> None:
    blank = dict.fromkeys(ROW, "")
    outcome = _convert(blank, cust_no="R7")
    assert isinstance(outcome, RejectedRow)
    assert "nothing but an identifier" in str(outcome)


def test_an_unreadable_last_modified_time_rejects_the_row_and_a_blank_one_takes_the_default():
    outcome = _convert(ROW, line=5, updated="yesterday")
    assert isinstance(outcome, RejectedRow)
    assert (
        str(outcome)
        == "line 5: rejected: updated: 'yesterday' is not a time written %Y-%m-%d %H:%M"
    )
    assert _imported(ROW, updated="").event.occurred_at == IMPORTED_AT


# --- reading files, resuming ---------------------------------------------------------------


class Sink:
    """Collects what is published; fails on the given call, like a broker going away."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.sent: list[Touchpoint] = []

    async def publish_many(self, events: Iterable[Touchpoint]) -> list[Touchpoint]:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise ConnectionError("broker went away")
        events = list(events)
        self.sent += events
        return events


def _profile_update(event: Touchpoint) -> ProfileUpdated:
    assert isinstance(event, ProfileUpdated)
    return event


SHOP = """
external_ids: [{column: ref, type: shop_no}]
name: {family_name: family}
emails: [{column: email}]
addresses: [{lines: [street], locality: town, default_country: FR}]
"""


def _shop_file(path: Path, rows: int = 20, encoding: str = "utf-8") -> None:
    lines = ["ref;family;email;street;town"]
    lines += [f"S{n};Lee{n};lee{n}@example.com;{n} rue Haute;Paris" for n in range(rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


async def _run(path: Path, sink: Sink, state: Path, **options: object):
    return await import_export(
        path,
        _parse(SHOP),
        "mapping-digest",
        SOURCE,
        sink,
        state,
        IMPORTED_AT,
        ImportOptions(**{"progress": None, **options}),  # type: ignore[arg-type]
    )


async def test_bad_rows_are_reported_by_the_line_they_start_on_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(
        b"ref;family;email;street;town\n"  # the delimiter is guessed from the header
        b'S1;Lee;lee@example.com;"1 rue Haute\nappartement 3";Paris\n'  # lines 2-3
        b"S2;Ng;ng@example.com;2 rue Basse\n"  # line 4: a cell short
        b"\n"  # line 5: blank, skipped
        b"S3;M\xfcller;m@example.com;3 rue Neuve;Paris\n"  # line 6: latin-1 in a UTF-8 file
        b";Ho;not-an-email;;\n"  # line 7: no identifier
        b"S5;Ray;ray@example.com;5 rue Haute;Paris\n"  # line 8
    )
    sink = Sink()
    summary = await _run(path, sink, tmp_path / "state.json")
    assert [str(r) for r in summary.rejected] == [
        "line 4: rejected: (row): 4 cells where the header has 5",
        "line 6: rejected: (row): not valid utf-8-sig: byte 0xfc at column 5",
        "line 7: rejected: email: 'not-an-email' is not an email address; left out; "
        "(row): no identifier: ref, email blank or unusable",
    ]
    assert [e.subject.external_ids[0].id for e in sink.sent] == ["S1", "S5"]
    first = _profile_update(sink.sent[0]).payload.addresses
    assert first is not None
    assert first[0].lines == ("1 rue Haute\nappartement 3",)
    assert str(summary) == "published 2, skipped as already done 0, rejected 3"


async def test_a_run_stopped_by_a_broker_failure_resumes_after_the_last_acknowledged_chunk(
    tmp_path: Path,
) -> None:
    path, state = tmp_path / "shop.csv", tmp_path / "state.json"
    _shop_file(path, rows=20)
    failing = Sink(fail_on_call=3)
    with pytest.raises(ConnectionError):
        await _run(path, failing, state, chunk=4)
    assert len(failing.sent) == 8
    assert json.loads(state.read_text())["last_line"] == 9  # the header, then 8 rows

    sink = Sink()
    summary = await _run(path, sink, state, chunk=4)
    assert (summary.published, summary.skipped, summary.complete) == (12, 8, True)
    ids = [e.message_id for e in failing.sent + sink.sent]
    assert len(ids) == len(set(ids)) == 20

    again = await _run(path, Sink(), state)
    assert (again.published, again.skipped) == (0, 20)


async def test_stop_after_ends_a_run_between_chunks_and_the_next_run_goes_on(
    tmp_path: Path,
) -> None:
    path, state = tmp_path / "shop.csv", tmp_path / "state.json"
    _shop_file(path, rows=10)
    first, second = Sink(), Sink()
    stopped = await _run(path, first, state, chunk=3, stop_after=5)
    assert (stopped.published, stopped.complete) == (5, False)
    assert "(stopped before the end)" in str(stopped)
    rest = await _run(path, second, state, chunk=3)
    assert (rest.published, rest.skipped, rest.resumed_after) == (5, 5, 6)
    assert {e.message_id for e in first.sent}.isdisjoint(e.message_id for e in second.sent)


async def test_a_changed_file_starts_over(tmp_path: Path) -> None:
    path, state = tmp_path / "shop.csv", tmp_path / "state.json"
    _shop_file(path, rows=5)
    await _run(path, Sink(), state)
    _shop_file(path, rows=6)
    out = io.StringIO()
    sink = Sink()
    summary = await _run(path, sink, state, progress=out)
    assert (summary.published, summary.skipped) == (6, 0)
    assert "file or mapping changed" in out.getvalue()


async def test_progress_is_printed_every_n_rows_and_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    _shop_file(path, rows=25)
    out = io.StringIO()
    await _run(path, Sink(), tmp_path / "state.json", progress=out, progress_every=10)
    lines = out.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == [
        "shop.csv: line 11/26 (42%)",
        "shop.csv: line 21/26 (80%)",
        "shop.csv: line 26/26 (100%)",
    ]
    assert lines[-1].endswith("published 25, skipped as already done 0, rejected 0")
    assert not any("stopped" in line for line in lines)  # not while running, nor when done


async def test_a_finished_rerun_does_not_say_it_stopped(tmp_path: Path) -> None:
    path, state = tmp_path / "shop.csv", tmp_path / "state.json"
    _shop_file(path, rows=5)
    await _run(path, Sink(), state)
    out = io.StringIO()
    summary = await _run(path, Sink(), state, progress=out, progress_every=2)
    assert (summary.skipped, summary.complete) == (5, True)
    assert "stopped" not in out.getvalue()
    assert "stopped" not in str(summary)


async def test_a_header_without_a_mapped_column_stops_before_sending_anything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("ref;family;mail;street;town\nS1;Lee;lee@example.com;1 rue;Paris\n")
    sink = Sink()
    with pytest.raises(MappingError, match=re.escape("emails.0.column names column 'email'")):
        await _run(path, sink, tmp_path / "state.json")
    assert sink.calls == 0


# --- the report's suspected duplicates (pure part) --------------------------------------------


def _profile(survivor: str, day: int, given: str, family: str, postcode: str, country="FR"):
    return report.Profile(
        survivor,
        datetime(2026, 1, day, tzinfo=UTC),
        {"given_name": given, "family_name": family},
        [{"lines": ["1 rue"], "locality": "Paris", "postal_code": postcode, "country": country}],
    )


def test_names_and_postcodes_match_whatever_their_case_accents_and_spacing() -> None:
    assert report.name_key({"given_name": " Hélène ", "family_name": "DUPRÉ"}) == "helene dupre"
    assert report.name_key({"given_name": "Jean-Luc", "family_name": "Le  Goff"}) == (
        report.name_key({"given_name": "jean luc", "family_name": "le goff"})
    )
    assert report.name_key({"family_name": "Müller"}) == "muller"
    assert report.postcode_key("se1 7pb") == report.postcode_key("SE1-7PB") == "SE17PB"


def test_suspected_pairs_are_same_name_and_postcode_older_first_unless_decided_apart() -> None:
    profiles = [
        _profile("c", 3, "Helene", "DUPRE", "75 011"),
        _profile("a", 1, "Hélène", "Dupré", "75011"),
        _profile("b", 2, "Hélène", "Dupré", "75011"),
        _profile("d", 4, "Hélène", "Dupré", "69003"),  # elsewhere: a namesake
        _profile("e", 5, "Hélène", "Dupré", "75011", country="BE"),
        _profile("f", 6, "Hélène", "Durand", "75011"),
    ]
    pairs = report.suspected_pairs(profiles, apart=[])
    assert [(p.customer, p.other) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    first = pairs[0]
    assert (first.name, first.postal_code, first.country) == ("Hélène Dupré", "75011", "FR")
    decided = report.suspected_pairs(profiles, apart=[("c", "a"), ("b", "c")])
    assert [(p.customer, p.other) for p in decided] == [("a", "b")]
