"""Acceptance 2 and 3: consented member lists for marketing, on the embedded setup.

The audiences stage runs in-process over a resolved topic this test writes; the API serves
its lists. A list holds only members who granted the purpose on the channel (unexpired
now) with no open complaint; each row only the fields the channel needs; pages and CSV
agree; every take is audited. A customer who revokes email consent leaves every email
audience and is off its list within 2 s.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from api import create_app
from api.auth import Caller
from api.roles import Role
from consumers.publishing import publish_all
from events import Touchpoint
from events.resolved import encode_resolved
from projections.audiences import queries
from projections.audiences.membership import ADDRESS_FIELDS, CHANNEL_FIELDS, NAME_FIELDS
from tests.factories import BASE_TIME
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints
from tests.profile_support import touch
from tests.waiting import eventually
from touchlog import bootstrap
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-marketing": Caller("Mia Marketing", Role.MARKETING),
}
MARKETING = {"Authorization": "Bearer t-marketing"}
AUDIENCES = {
    "audiences": [
        {"name": "everyone", "channels": ["email", "sms", "mail"]},
        {"name": "email-only", "channels": ["email"]},
        {
            "name": "gardeners",
            "channels": ["email"],
            "when": {"categories_bought": {"any_of": ["garden"]}},
        },
    ]
}
PEOPLE = 23  # listed by email: three pages of 10


def _consent(customer: str, n: int, channel: str, status: str, **extra: Any) -> Touchpoint:
    payload = {
        "purpose": "marketing",
        "channel": channel,
        "status": status,
        "legal_basis": "consent",
        "captured_via": "web preference centre",
        **extra,
    }
    return touch(
        "consent.changed",
        payload,
        at=BASE_TIME + timedelta(hours=n),
        message_id=f"{customer}-c{n}",
        customer=customer,
    )


def _person(customer: str) -> list[Touchpoint]:
    profile = {
        "name": {
            "title": "Ms",
            "given_name": "Ann",
            "middle_names": "Marie",
            "family_name": customer,
            "pronunciation": "an",
        },
        "emails": [{"use": "personal", "address": f"{customer}@example.com", "primary": True}],
        "phones": [{"use": "mobile", "number": "+33612345678"}],
        "addresses": [
            {
                "lines": ["12 rue Oberkampf"],
                "locality": "Paris",
                "postal_code": "75011",
                "country": "FR",
            }
        ],
        "date_of_birth": "1961-07-14",
        "income_band": "over_100k",
    }
    return [
        touch(
            "profile.updated", profile, at=BASE_TIME, message_id=f"{customer}-p", customer=customer
        ),
        _consent(customer, 1, "email", "granted"),
        _consent(customer, 2, "sms", "granted"),
        _consent(customer, 3, "mail", "granted"),
    ]


def _histories() -> dict[str, list[Touchpoint]]:
    people = {f"cust-{n:02d}": _person(f"cust-{n:02d}") for n in range(PEOPLE)}
    complaint = {"case_id": "C-1", "category": "delivery", "severity": "low", "description": "late"}
    people["cust-complains"] = [
        *_person("cust-complains"),
        touch(
            "complaint.opened",
            complaint,
            at=BASE_TIME + timedelta(hours=5),
            message_id="cc-1",
            customer="cust-complains",
        ),
    ]
    people["cust-expired"] = [
        *_person("cust-expired"),
        _consent(
            "cust-expired",
            6,
            "email",
            "granted",
            expires_at=(BASE_TIME + timedelta(days=30)).isoformat(),
        ),
    ]
    people["cust-no-email"] = [
        *_person("cust-no-email"),
        _consent("cust-no-email", 6, "email", "denied"),
    ]
    return people


async def _publish(bootstrap_servers: str, topic: str, events: dict[str, list[Touchpoint]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        records = [(c.encode(), encode_resolved(c, e)) for c, es in events.items() for e in es]
        await publish_all(producer, topic, records)
    finally:
        await producer.stop()


@pytest.fixture
async def world(
    broker: EmbeddedBroker, unique: str, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    audiences_file = tmp_path / "audiences.json"
    audiences_file.write_text(json.dumps(AUDIENCES))
    settings = Settings(
        topic_resolved=f"test.{unique}.resolved",
        topic_deadletter=f"test.{unique}.deadletter",
        topic_audiences=f"test.{unique}.audiences",
        consumer_group=f"g-{unique}",
        audiences_file=audiences_file,
        batch_max_records=500,
    )
    await ensure_topics(
        broker.bootstrap_servers, [settings.topic_resolved, settings.topic_audiences], partitions=6
    )
    await bootstrap.create_tables(pool)
    stop = asyncio.Event()
    ends = endpoints(broker.bootstrap_servers, database_url)
    stages = asyncio.create_task(
        bootstrap.run_stages(settings, ends, pool, stop, ("audiences",), list(range(6)))
    )
    app = create_app(database_url, tokens=TOKENS)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
        ):
            yield http, settings
    finally:
        stop.set()
        await stages


async def _listed(
    http: httpx.AsyncClient, audience: str, channel: str, limit: int = 10
) -> list[dict[str, Any]]:
    members, cursor = [], None
    while True:
        params = {"channel": channel, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await http.get(
            f"/audiences/{audience}/members", params=params, headers=MARKETING
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["members"]) <= limit
        members += page["members"]
        cursor = page["next_cursor"]
        if cursor is None:
            return members


async def test_member_lists_hold_consented_members_with_only_their_channels_fields(
    world: tuple[httpx.AsyncClient, Settings], broker: EmbeddedBroker, pool: asyncpg.Pool
) -> None:
    http, settings = world
    histories = _histories()
    await _publish(broker.bootstrap_servers, settings.topic_resolved, histories)
    people = {f"cust-{n:02d}" for n in range(PEOPLE)}

    async def email_list() -> set[str]:
        known = await http.get("/audiences", headers=MARKETING)
        if not known.json()["audiences"]:
            return set()  # the stage's first batch stores the definitions
        return {m["customer_id"] for m in await _listed(http, "everyone", "email")}

    assert await eventually(email_list, lambda ids: ids == people, what="the email list")
    # members all the same: the complainer and the expired grant are in the audience
    in_audience = await pool.fetchval(
        "SELECT count(*) FROM audience_members_v1 WHERE audience = 'everyone' AND member"
    )
    assert in_audience == PEOPLE + 3

    for channel, detail in (("email", "email"), ("sms", "phone"), ("mail", "address")):
        rows = await _listed(http, "everyone", channel, limit=7)
        assert {r["customer_id"] for r in rows} == people | (
            {"cust-expired", "cust-no-email"} if channel != "email" else set()
        )
        for row in rows:  # acceptance 3: nothing beyond what the channel needs
            assert set(row) == set(CHANNEL_FIELDS[channel]), row
            assert set(row["name"]) <= set(NAME_FIELDS)
            assert "1961" not in json.dumps(row)
            assert "over_100k" not in json.dumps(row)
        sample = next(r for r in rows if r["customer_id"] == "cust-01")
        assert sample["name"] == {"title": "Ms", "given_name": "Ann", "family_name": "cust-01"}
        if detail == "address":
            assert set(sample["address"]) <= set(ADDRESS_FIELDS)
            assert sample["address"]["postal_code"] == "75011"
        else:
            assert sample[detail] == (
                "cust-01@example.com" if detail == "email" else "+33612345678"
            )

    export = await http.get(
        "/audiences/everyone/members.csv", params={"channel": "email"}, headers=MARKETING
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.text)))
    assert set(table[0]) == {"customer_id", "title", "given_name", "family_name", "email"}
    assert {r["customer_id"] for r in table} == people

    taken = await queries.lists_taken(pool, "everyone")
    assert next((t["who"], t["format"], t["customers"]) for t in taken) == (
        "Mia Marketing",
        "csv",
        PEOPLE,
    )
    assert {(t["channel"], t["format"]) for t in taken} >= {
        ("email", "page"),
        ("sms", "page"),
        ("mail", "page"),
    }
    assert (
        sum(t["customers"] for t in taken if (t["channel"], t["format"]) == ("sms", "page"))
        >= PEOPLE
    )

    agent = {"Authorization": "Bearer t-agent"}
    assert (
        await http.get("/audiences/everyone/members", params={"channel": "email"}, headers=agent)
    ).status_code == 403
    assert (
        await http.get("/audiences/nobody/members", params={"channel": "email"}, headers=MARKETING)
    ).status_code == 404
    assert (
        await http.get(
            "/audiences/email-only/members", params={"channel": "sms"}, headers=MARKETING
        )
    ).status_code == 422
    catalogue = (await http.get("/audiences", headers=MARKETING)).json()
    assert [a["name"] for a in catalogue["audiences"]] == ["everyone", "email-only", "gardeners"]

    # acceptance 2: revoking email consent leaves every email audience, off the list in 2 s
    revoke = {"cust-07": [_consent("cust-07", 9, "email", "revoked")]}
    await _publish(broker.bootstrap_servers, settings.topic_resolved, revoke)
    published = time.monotonic()
    await eventually(
        email_list,
        lambda ids: "cust-07" not in ids,
        timeout=2.0,
        interval=0.05,
        what="cust-07 off the email list",
    )
    assert time.monotonic() - published <= 2.0
    assert "cust-07" in {m["customer_id"] for m in await _listed(http, "everyone", "sms")}
    assert "cust-07" not in {m["customer_id"] for m in await _listed(http, "email-only", "email")}

    async def changes() -> list[dict[str, Any]]:
        return [
            json.loads(r.value)
            for r in await read_topic(broker.bootstrap_servers, settings.topic_audiences)
        ]

    found = await eventually(
        changes,
        lambda cs: any(
            c["customer_id"] == "cust-07" and c["type"] == "audience.exited" for c in cs
        ),
        what="the exit published",
    )
    exits = {
        c["audience"]
        for c in found
        if c["customer_id"] == "cust-07" and c["type"] == "audience.exited"
    }
    assert exits == {"email-only"}  # "everyone" keeps cust-07 on sms and mail
