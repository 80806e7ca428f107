"""Acceptance 1 and 2 of issue 16: three UK units' exports, each in its own layout (full and
split names, postcode-only and one-line addresses, six ways of writing phones, padded
upper-case emails, junk), with households and an unconfigured switchboard, imported the way
a new user would, resolved, and looked up by phone written in other forms.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events.envelope import Source
from producers import Publisher, legacy
from projections.identity import IdentityRules
from projections.timeline.postgres import count_rows
from tests.integration.legacy_exports import UK_SWITCHBOARD, generate_layouts, uk_phone_forms
from tests.integration.pipeline_support import endpoints, pipeline, resolver_position
from tests.integration.test_legacy_consolidation import (
    RecordingSink,
    _predicted,
    _settings,
    mistakes,
    pairwise,
)
from tests.waiting import eventually
from touchlog.config_files import load_with_digest
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

IMPORTED_AT = datetime(2026, 3, 1, tzinfo=UTC)


async def test_three_layouts_consolidate_and_every_phone_form_finds_its_person(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exports = generate_layouts()
    rules = IdentityRules(default_region="GB")  # the switchboard is not configured
    settings = _settings(topics, broker, database_url, default_region="GB")
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
                legacy.ImportOptions(progress=None, region=mapping.region),
            )
            assert (summary.complete, summary.rejected) == (True, [])
            # Only the junk is left out: no real phone, email, name or address.
            kept = {"", "n/a", "-1", "0000000000", "00000 000000", "test@test.com"}
            left = [p.message for _, p in summary.left_out]
            assert all(m.split("'")[1].casefold() in kept for m in left), left
    by_record = exports.truth()
    truth = {message_id: by_record[record] for message_id, record in sink.records.items()}
    assert len(truth) == len(exports.rows)

    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool, rules):
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            lambda n: n >= len(truth),
            timeout=120,
            what="the resolver through every imported row",
        )
        await eventually(lambda: count_rows(pool), lambda n: n >= len(truth), what="timeline")
        predicted = await _predicted(pool)
    assert predicted.keys() == truth.keys()
    precision, recall = pairwise(truth, predicted)
    problems = mistakes(exports, truth, predicted)
    customers_of: dict[int, set[str]] = defaultdict(set)
    for message_id, person in truth.items():
        customers_of[person].add(predicted[message_id])

    app = create_app(database_url, rules, {"t-agent": Caller("Ann", Role.AGENT)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer t-agent"},
        ) as http,
    ):

        async def lookup(written: str) -> dict[str, Any]:
            response = await http.get("/lookup", params={"phone": written})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        found = wrong = tried = 0
        for person, imported in sorted(exports.imported_phone_forms.items()):
            mobile = exports.people[person].mobile
            others = [f for f in uk_phone_forms(mobile) if f not in imported][:3]
            for written in others:
                tried += 1
                ids = [c["customer_id"] for c in (await lookup(written))["candidates"]]
                found += len(ids) == 1 and ids[0] in customers_of[person]
                wrong += len(ids) == 1 and ids[0] not in customers_of[person]
        households = []
        for first, second in exports.households:
            body = await lookup(uk_phone_forms(exports.people[first].landline or "")[3])
            ids = {c["customer_id"] for c in body["candidates"]}
            households.append(
                body["ambiguous"] and customers_of[first] | customers_of[second] <= ids
            )
        switchboard = await lookup(uk_phone_forms(UK_SWITCHBOARD)[4])
        staff = set().union(*(customers_of[p] for p in exports.staff))
        switchboard_ok = switchboard["ambiguous"] and staff <= {
            c["customer_id"] for c in switchboard["candidates"]
        }

    with capsys.disabled():
        print(
            f"\nthree layouts, {len(exports.people)} people, {len(truth)} rows: pairwise "
            f"precision {precision:.4f}, recall {recall:.4f}; phone lookups in other forms: "
            f"{found}/{tried} right, {wrong} a wrong single person; households ambiguous "
            f"{sum(households)}/{len(households)}; switchboard ambiguous {switchboard_ok}"
        )
        print("\n".join(f"  {p}" for p in problems[:20]))
    household = {p for pair in exports.households for p in pair}
    apart = {m: p for m, p in truth.items() if p not in household}
    assert pairwise(apart, predicted)[0] >= 0.995, problems
    assert recall >= 0.98, problems
    assert found >= 0.98 * tried
    assert wrong == 0
    assert switchboard_ok
    # A household landline on a row with no email is told apart by the name on it.
    assert precision >= 0.995, problems
    assert all(households), households
