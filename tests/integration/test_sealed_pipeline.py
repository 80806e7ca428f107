"""Personal fields sealed through the whole pipeline, as ``touchlog up`` runs it (consumer
groups): the SDK seals, the resolver opens and forwards sealed, the views open. The log
holds no personal value in clear; once a subject's keys are shredded, a rebuilt timeline
reads ``[erased]`` for that customer and nothing else changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events import from_mapping
from privacy import subjects
from privacy.keys import PostgresKeyStore, master_key_from
from privacy.sealing import ERASED
from producers import Publisher
from projections import versions
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog import rebuilds
from touchlog.cli_common import publisher
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

ANN = {"email": "ann.sealed@example.com", "phone": "+33628237781"}
BOB = {"email": "bob.sealed@example.com"}
ANN_VALUES = ["ann.sealed@example.com", "628237781", "Ann's private note 7731", "Zzyzxann"]
BOB_VALUES = ["bob.sealed@example.com", "Bob's private note 4411"]


def _event(kind: str, subject: dict[str, str], payload: dict[str, Any], n: int) -> Any:
    return from_mapping(
        {
            "type": kind,
            "message_id": f"sealed-{n}",
            "occurred_at": f"2026-03-0{1 + n % 8}T09:00:00+00:00",
            "source": {"system": "crm", "business_unit": "retail", "channel": "phone"},
            "subject": subject,
            "payload": payload,
        }
    )


def _events() -> list[Any]:
    call = {"direction": "inbound", "duration_seconds": 60, "reason": "delivery", "outcome": "ok"}
    return [
        _event("call.logged", ANN, {**call, "notes": "Ann's private note 7731"}, 1),
        _event(
            "profile.updated", ANN, {"name": {"given_name": "Ann", "family_name": "Zzyzxann"}}, 2
        ),
        _event(
            "complaint.opened",
            ANN,
            {"case_id": "C-9", "category": "delivery", "severity": "low", "description": "late"},
            3,
        ),
        _event("call.logged", BOB, {**call, "notes": "Bob's private note 4411"}, 4),
    ]


async def _timeline(pool: asyncpg.Pool) -> dict[str, tuple[str, str]]:
    rows = await pool.fetch("SELECT message_id, summary, payload::text FROM timeline_v1")
    return {r["message_id"]: (r["summary"], r["payload"]) for r in rows}


async def _dead_letters(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM dead_letters")
    return count


def _in_clear(records: list[Any], values: list[str]) -> list[str]:
    found = []
    for record in records:
        blob = b"".join(
            [record.key or b"", record.value or b"", *(v for _, v in record.headers or ())]
        )
        found += [v for v in values if v.encode() in blob]
    return found


async def test_sealed_events_reach_the_views_and_read_erased_after_shredding(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> None:
    database_url = await new_database()
    settings = pipeline_settings(topics, data_dir=tmp_path, key_cache_seconds=0)
    ends = endpoints(broker.bootstrap_servers, database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    try:
        async with pipeline(settings, ends, pool, group=True):
            async with publisher(settings, ends) as sdk:
                await sdk.publish_many(_events())
            await eventually(lambda: _timeline(pool), lambda rows: len(rows) == 4)
            profile_names = await eventually(
                lambda: pool.fetch("SELECT value::text FROM profile_facts_v1 WHERE kind = 'name'"),
                lambda rows: len(rows) == 1,
            )
        timeline = await _timeline(pool)
        assert "Ann's private note 7731" in timeline["sealed-1"][1]
        assert "Bob's private note 4411" in timeline["sealed-4"][1]
        assert "Zzyzxann" in profile_names[0]["value"]

        log = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
        resolved = await read_topic(broker.bootstrap_servers, topics["resolved"])
        assert len(log) == 4
        assert len(resolved) == 4
        assert _in_clear(log + resolved, ANN_VALUES + BOB_VALUES) == []

        ann = await pool.fetchval(
            "SELECT subject_key FROM timeline_v1 WHERE message_id = 'sealed-1'"
        )
        bob = await pool.fetchval(
            "SELECT subject_key FROM timeline_v1 WHERE message_id = 'sealed-4'"
        )
        refs = await pool.fetch(
            "SELECT subject_ref FROM privacy_subjects WHERE customer_id = $1", ann
        )
        assert len(refs) == 1
        store = PostgresKeyStore(pool, master_key_from(settings))
        # One key of her own: the data keys of her three events derive from it.
        assert await store.shred_subjects([r["subject_ref"] for r in refs], "erasure") == 1

        done = await rebuilds.rebuild(settings, ends, pool, "timeline", switch=True)
        assert done.switched_from == 1
        after = await _timeline(pool)
        assert set(after) == set(timeline)
        for message_id in ("sealed-1", "sealed-2", "sealed-3"):
            summary, payload = after[message_id]
            assert not any(v in summary + payload for v in ANN_VALUES)
        assert ERASED in after["sealed-1"][1]
        assert ERASED in after["sealed-3"][1]
        assert after["sealed-4"] == timeline["sealed-4"]
        owners = await pool.fetch("SELECT DISTINCT subject_key FROM timeline_v1")
        assert len(owners) == 2, "Ann's erased events stay with her customer"
        assert await _dead_letters(pool) == 0

        # Identity rebuilt from the log: Ann's erased events go to the customer erasure
        # recorded for her subject, not to one customer of every "[erased]" subject.
        async with pool.acquire() as conn:
            await subjects.erase(conn, "ann-erased", [r["subject_ref"] for r in refs])
        rebuilt = await rebuilds.rebuild(settings, ends, pool, "identity")
        topic = versions.resolved_topic(settings.topic_resolved, rebuilt.version)
        owners_v2 = {
            doc["event"]["message_id"]: doc["customer_id"]
            for doc in (
                json.loads(r.value) for r in await read_topic(broker.bootstrap_servers, topic)
            )
        }
        assert {owners_v2[m] for m in ("sealed-1", "sealed-2", "sealed-3")} == {"ann-erased"}
        assert owners_v2["sealed-4"] == bob, "Bob's customer is unchanged"
        assert await _dead_letters(pool) == 0
    finally:
        await asyncio.wait_for(pool.close(), 10)


async def test_clear_events_are_sealed_by_the_resolver_before_they_are_forwarded(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> None:
    """A vendor's producer writes in clear to the touchpoints topic (a documented limit):
    the resolver accepts it and forwards it sealed, so the resolved topic holds none."""
    database_url = await new_database()
    settings = pipeline_settings(topics, data_dir=tmp_path)
    ends = endpoints(broker.bootstrap_servers, database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    try:
        async with pipeline(settings, ends, pool, group=True):
            async with Publisher(
                broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
            ) as clear:
                await clear.publish_many(_events())
            await eventually(lambda: _timeline(pool), lambda rows: len(rows) == 4)
        timeline = await _timeline(pool)
        assert "Ann's private note 7731" in timeline["sealed-1"][1]
        log = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
        resolved = await read_topic(broker.bootstrap_servers, topics["resolved"])
        assert _in_clear(log, ANN_VALUES + BOB_VALUES), "the vendor's records are in clear"
        assert len(resolved) == 4
        assert _in_clear(resolved, ANN_VALUES + BOB_VALUES) == []
        recorded = await pool.fetchval("SELECT count(DISTINCT subject_ref) FROM privacy_subjects")
        assert recorded == 2
    finally:
        await asyncio.wait_for(pool.close(), 10)
