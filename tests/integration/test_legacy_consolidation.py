"""Legacy consolidation end to end: three units' exports → import → resolver → identity report.

Pairwise precision and recall of "same customer" are measured over every pair of imported
rows against the generator's ground truth, and printed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from events import Touchpoint, from_mapping
from events.envelope import Source
from producers import Publisher, legacy
from projections.identity import postgres as identity
from projections.identity import report
from projections.timeline.postgres import count_rows, fetch_timeline
from tests.integration.kafka_support import read_topic
from tests.integration.legacy_exports import SWITCHBOARD, LegacyExports, generate
from tests.integration.pipeline_support import (
    endpoints,
    pipeline,
    pipeline_settings,
    resolver_position,
)
from tests.waiting import eventually
from touchlog import cli, cli_identity, cli_import
from touchlog.config_files import load_with_digest
from touchlog.embedded import EmbeddedBroker
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

IMPORTED_AT = datetime(2026, 2, 1, tzinfo=UTC)  # theatre rows have no last-modified time


class RecordingSink:
    """The publisher, remembering which record (external id) each event came from."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.records: dict[str, tuple[str, str]] = {}

    async def publish_many(self, events: Iterable[Touchpoint]) -> list[object]:
        events = list(events)
        for event in events:
            first = event.subject.external_ids[0]
            self.records[event.message_id] = (first.type, first.id)
        return list(await self.publisher.publish_many(events))


def pairwise(truth: Mapping[str, int], predicted: Mapping[str, str]) -> tuple[float, float]:
    """Precision and recall of "these two rows are one customer", over all pairs of rows."""
    cells: dict[tuple[int, str], int] = defaultdict(int)
    for row, person in truth.items():
        cells[(person, predicted[row])] += 1

    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    by_person: dict[int, int] = defaultdict(int)
    by_customer: dict[str, int] = defaultdict(int)
    for (person, customer), n in cells.items():
        by_person[person] += n
        by_customer[customer] += n
    together = pairs(cells.values())
    return together / max(pairs(by_customer.values()), 1), together / max(
        pairs(by_person.values()), 1
    )


def mistakes(
    exports: LegacyExports, truth: Mapping[str, int], predicted: Mapping[str, str]
) -> list[str]:
    """Every person split over customers and every customer holding several people."""
    customers_of: dict[int, set[str]] = defaultdict(set)
    people_of: dict[str, set[int]] = defaultdict(set)
    for row, person in truth.items():
        customers_of[person].add(predicted[row])
        people_of[predicted[row]].add(person)
    found = []
    for person, customers in sorted(customers_of.items()):
        if len(customers) > 1:
            numbers = [f"{r.unit}:{r.number}" for r in exports.rows_of(person)]
            planted = " (planted: nothing shared)" if person in exports.unlinkable else ""
            found.append(f"person {person} split over {len(customers)}: {numbers}{planted}")
    for customer, people in sorted(people_of.items()):
        if len(people) > 1:
            rows = [
                {k: v for k, v in r.cells.items() if k.lower() in _IDENTIFYING}
                for p in sorted(people)
                for r in exports.rows_of(p)
            ]
            found.append(f"customer {customer} holds people {sorted(people)}: {rows}")
    return found


_IDENTIFYING = {"email", "e-mail", "mobile", "home_phone", "phone", "tel"}


async def _predicted(pool: asyncpg.Pool) -> dict[str, str]:
    """message_id → surviving customer, for every profile.updated in the timeline."""
    rows = await pool.fetch(
        """
        WITH RECURSIVE survivors(customer_id, survivor) AS (
            SELECT customer_id, customer_id FROM identity_customers WHERE merged_into IS NULL
            UNION ALL
            SELECT c.customer_id, s.survivor
            FROM identity_customers c JOIN survivors s ON c.merged_into = s.customer_id
        )
        SELECT t.message_id, s.survivor
        FROM timeline_v1 t JOIN survivors s ON s.customer_id = t.subject_key
        WHERE t.type = 'profile.updated'
        """
    )
    return {r["message_id"]: r["survivor"] for r in rows}


def _settings(topics: dict[str, str], broker: EmbeddedBroker, database_url: str, **kw: object):
    return pipeline_settings(
        topics,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_idempotence=False,
        DATABASE_URL=database_url,
        **kw,
    )


async def test_three_units_consolidate_and_the_report_finds_what_the_rules_cannot(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exports = generate()
    rules = tmp_path / "identity-rules.yaml"
    rules.write_text(f"shared_numbers: ['{SWITCHBOARD}']\n")
    settings = _settings(topics, broker, database_url, identity_rules=rules)

    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        sink = RecordingSink(publisher)
        for files in exports.write(tmp_path / "exports"):
            mapping, digest = load_with_digest(files.mapping, legacy.parse_mapping)
            source = Source(
                system=files.unit.system, business_unit=files.unit.name, channel=mapping.channel
            )
            summary = await legacy.import_export(
                files.csv,
                mapping,
                digest,
                source,
                sink,
                tmp_path / f"{files.unit.name}.state.json",
                IMPORTED_AT,
                legacy.ImportOptions(progress=None),
            )
            assert summary.complete
            assert summary.rejected == []
    assert len(sink.records) == len(exports.rows)
    by_record = exports.truth()
    truth = {message_id: by_record[record] for message_id, record in sink.records.items()}

    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        total = len(truth)
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            lambda n: n >= total,
            timeout=120,
            what="the resolver through every imported row",
        )
        await eventually(lambda: count_rows(pool), lambda n: n >= total, what="timeline rows")
        predicted = await _predicted(pool)
        assert predicted.keys() == truth.keys()

        precision, recall = pairwise(truth, predicted)
        problems = mistakes(exports, truth, predicted)
        with capsys.disabled():
            print(
                f"\nlegacy consolidation, {len(exports.people)} people, {total} rows: "
                f"pairwise precision {precision:.4f}, recall {recall:.4f}"
            )
            print("\n".join(f"  {p}" for p in problems))
        assert precision >= 0.99, problems
        assert recall >= 0.95, problems

        # The report lists the merges the resolver made ...
        found = await report.identity_report(pool)
        assert len(found.merges) == await pool.fetchval("SELECT count(*) FROM identity_merges")
        assert found.merges
        assert all(m.in_effect and "shares identifiers" in m.reason for m in found.merges)

        # ... and suspects exactly the planted people and the namesakes at one postcode.
        def customers(person: int) -> list[str]:
            return sorted({predicted[m] for m, p in truth.items() if p == person})

        planted = {frozenset(customers(p)) for p in exports.planted}
        namesakes = [
            frozenset(customers(a) + customers(b)) for a, b in exports.namesakes_same_postcode
        ]
        assert all(len(pair) == 2 for pair in (*planted, *namesakes))
        suspected = {frozenset((s.customer, s.other)) for s in found.suspected_duplicates}
        assert suspected == planted | set(namesakes)

        # A person confirms a planted duplicate: the older customer survives, timelines unite.
        older, newer = customers(exports.planted[0])
        if await _born(pool, newer) < await _born(pool, older):
            older, newer = newer, older
        args = cli.parser().parse_args(
            ["identity", "confirm", newer, older, "--by", "rep-7", "--reason", "same address"]
        )
        assert await cli_identity.confirm(settings, args) == 0
        await eventually(
            lambda: identity.survivor_of(pool, newer), lambda s: s == older, what="the merge"
        )
        united = await fetch_timeline(pool, await identity.merged_ids(pool, older), limit=100)
        rows_of_person = {m for m, p in truth.items() if p == exports.planted[0]}
        assert rows_of_person <= {e["message_id"] for e in united.entries}
        merge = await pool.fetchrow(
            "SELECT * FROM identity_merges WHERE merged = $1 AND survivor = $2", newer, older
        )
        assert merge is not None
        assert merge["reason"] == "same address"

        # ... and rejects a pair of namesakes: neither is suspected any more.
        father, son = sorted(namesakes[0])
        args = cli.parser().parse_args(["identity", "reject", son, father, "--by", "rep-7"])
        assert await cli_identity.reject(settings, args) == 0
        # A decision is an event: the report shows it once the resolver has applied it.
        await eventually(
            lambda: report.suspected_duplicates(pool),
            lambda found: {frozenset((s.customer, s.other)) for s in found}.isdisjoint(
                {namesakes[0]}
            ),
            what="the rejection applied",
        )
        args = cli.parser().parse_args(["identity", "report", "--json"])
        # The stages still running log to stdout too (the merge reaches the projections
        # asynchronously): captured apart, so that stdout holds the report alone.
        with capture_logs():
            capsys.readouterr()
            assert await cli_identity.show_report(settings, args) == 0
            document = json.loads(capsys.readouterr().out)
        left = {frozenset((s["customer"], s["other"])) for s in document["suspected_duplicates"]}
        assert left == (planted | set(namesakes)) - {frozenset((older, newer)), namesakes[0]}
        assert len(document["merges"]) == len(found.merges) + 1

        precision, recall = pairwise(truth, await _predicted(pool))
        with capsys.disabled():
            print(f"after one confirmed duplicate: precision {precision:.4f}, recall {recall:.4f}")

        # A split undoing that merge keeps the two apart: not suspected again.
        async with Publisher(
            broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
        ) as publisher:
            await publisher.publish(await _split(pool, older, newer, merge["message_id"]))
        await eventually(
            lambda: identity.survivor_of(pool, newer), lambda s: s == newer, what="the split"
        )
        after = await report.identity_report(pool)
        assert {frozenset((s.customer, s.other)) for s in after.suspected_duplicates} == (
            left - {frozenset((older, newer))}
        )
        [undone] = [m for m in after.merges if m.merged == newer]
        assert not undone.in_effect


async def _split(pool: asyncpg.Pool, original: str, new: str, merge_id: str) -> Touchpoint:
    """The customer.split a person sends to undo the merge of ``new`` into ``original``."""
    moved = []
    for key in await pool.fetch(
        "SELECT identifier FROM identity_links WHERE customer_id = $1 ORDER BY 1", new
    ):
        kind, _, value = key["identifier"].partition(":")
        namespace, _, own = value.partition(":") if kind == "external_id" else (None, "", value)
        moved.append({"type": kind, "namespace": namespace, "value": own})
    return from_mapping(
        {
            "type": "customer.split",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": {"system": "touchlog-api", "business_unit": "group", "channel": "app"},
            "subject": {"customer_id": original},
            "payload": {
                "original_customer_id": original,
                "new_customer_id": new,
                "identifiers_moved": moved,
                "reason": "two people after all",
                "split_by": "manager-3",
                "reverses_merge": merge_id,
            },
        }
    )


async def _born(pool: asyncpg.Pool, customer_id: str) -> datetime:
    born: datetime = await pool.fetchval(
        "SELECT born_at FROM identity_customers WHERE customer_id = $1", customer_id
    )
    return born


MAPPING = """
csv: {delimiter: ","}
external_ids: [{column: ref, type: shop_customer_no}]
name: {given_name: given, family_name: family}
emails: [{column: email}]
addresses: [{lines: [street], postal_code: zip, locality: town, default_country: FR}]
last_modified: {column: changed}
"""


def _export_with_bad_rows(path: Path) -> tuple[int, dict[int, str]]:
    """30 good rows and 4 bad ones; returns (good rows, bad line → what is wrong)."""
    lines = ["ref,given,family,email,street,zip,town,changed"]
    bad: dict[int, str] = {}
    for n in range(30):
        street = f'"{n} rue Haute\n(bâtiment B)"' if n == 3 else f"{n} rue Haute"
        lines.append(
            f"S{n},Ann,Lee{n},ann{n}@example.com,{street},75011,Paris,2024-05-0{n % 9 + 1}"
        )
        if n in (5, 12, 20, 27):
            line = sum(text.count("\n") + 1 for text in lines) + 1
            lines.append(
                {
                    5: "S-bad1,Bob,Ray,bob@example.com,1 rue,75011,Paris,yesterday",
                    12: ",,,null,,,,",
                    20: "S-bad3,Cy,Ng,cy@example.com,1 rue,75011",
                    27: ",Di,Ho,not an email,,,,2024-05-01",
                }[n]
            )
            bad[line] = {5: "changed", 12: "no identifier", 20: "cells", 27: "no identifier"}[n]
    path.write_text("\n".join(lines) + "\n")
    return 30, bad


async def test_import_reports_bad_rows_by_line_and_resumes_without_duplicates(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv, mapping_file = tmp_path / "shop.csv", tmp_path / "shop.yaml"
    good, bad = _export_with_bad_rows(csv)
    mapping_file.write_text(MAPPING)
    state = tmp_path / "shop.state.json"
    settings: Settings = pipeline_settings(
        topics,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_idempotence=False,
        DATABASE_URL="postgresql://unused",
        seal_personal_data=False,  # no key store here: the import publishes in clear
    )
    mapping, digest = load_with_digest(mapping_file, legacy.parse_mapping)
    source = Source(system="shop-crm", business_unit="retail", channel=mapping.channel)

    # A first run "crashes" after 10 rows (sent in chunks of 4).
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        first = await legacy.import_export(
            csv,
            mapping,
            digest,
            source,
            publisher,
            state,
            options=legacy.ImportOptions(chunk=4, stop_after=10, progress=None),
        )
    assert not first.complete
    assert first.published + len(first.rejected) == 10
    done_first = json.loads(state.read_text())["last_line"]

    # The re-run goes on after the last acknowledged line and reports the others' lines.
    command = ["import", str(csv), "--source", "shop-crm", "--business-unit", "retail"]
    command += ["--mapping", str(mapping_file), "--state", str(state)]
    capsys.readouterr()
    assert await cli_import.import_export(settings, cli.parser().parse_args(command)) == 1
    out, err = capsys.readouterr()
    assert f"published {good - first.published}, skipped as already done 10," in out
    reported = {r.line for r in first.rejected} | {
        int(line.split("line ")[1].split(":")[0])
        for line in err.splitlines()
        if line.startswith(f"{csv}:line ") and ": rejected: " in line
    }
    assert reported == set(bad), err
    assert all(line > done_first for line in reported - {r.line for r in first.rejected})
    messages = err + "".join(f"{r}\n" for r in first.rejected)
    assert "line 9: rejected: changed: 'yesterday' is not a time written ISO 8601" in messages
    assert "line 26: rejected: (row): 6 cells where the header has 8" in messages

    records = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
    ids = [json.loads(r.value)["message_id"] for r in records]
    assert len(ids) == len(set(ids)) == good

    # Once complete, a re-run sends nothing.
    assert await cli_import.import_export(settings, cli.parser().parse_args(command)) == 0
    assert f"published 0, skipped as already done {good + len(bad)}," in capsys.readouterr().out
    assert len(await read_topic(broker.bootstrap_servers, topics["touchpoints"])) == good
