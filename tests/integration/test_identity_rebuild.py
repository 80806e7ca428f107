"""A rebuild of the identity graph from the log keeps the decisions people made.

Events are published, the resolver merges some customers, and people decide through the
command line: a confirmed duplicate, a rejected one, a split of a wrong merge. Then the
graph is rebuilt from offset 0 into a fresh database (and a new resolved topic): every
table of it — customers and survivors, links, merges with their ``merged_at``, pairs kept
apart, pairs rejected, identifiers not matched — is the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from projections.identity import postgres as identity
from tests.factories import BASE_TIME, event_dict
from tests.integration.kafka_support import publish_in_order, read_topic
from tests.integration.pipeline_support import (
    endpoints,
    pipeline,
    pipeline_settings,
    resolver_position,
)
from tests.waiting import eventually
from touchlog import cli, cli_identity
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

TABLES = {
    "customers": "SELECT customer_id, born_at, born_from, merged_into FROM identity_customers",
    "links": "SELECT identifier, customer_id, message_id, linked_at FROM identity_links",
    "kept_apart": "SELECT a, b FROM identity_kept_apart",
    "merges": "SELECT survivor, merged, reason, message_id, merged_at FROM identity_merges",
    "rejected": "SELECT a, b, rejected_by, reason, rejected_at FROM identity_rejected_pairs",
    "not_matched": "SELECT identifier, reason, message_id FROM identity_not_matched",
}


def _event(subject: dict[str, Any], message_id: str, hours: int) -> dict[str, Any]:
    data = event_dict(message_id=message_id, at=BASE_TIME + timedelta(hours=hours))
    data["subject"] = subject
    return data


EVENTS = [
    _event({"email": "ann@example.com"}, "a1", 1),
    _event({"phone": "06 28 23 04 55"}, "a2", 2),
    _event({"email": "ann@example.com", "phone": "+33628230455"}, "a3", 3),  # merged
    _event({"email": "bob@example.com"}, "b1", 4),
    _event({"email": "bobby@example.org"}, "b2", 5),  # to be confirmed as Bob
    _event({"email": "carl@example.com"}, "c1", 6),
    _event({"email": "carla@example.org"}, "c2", 7),  # to be rejected as Carl
    _event({"email": "max@example.com"}, "m1", 8),
    _event({"phone": "06 11 22 33 44"}, "m2", 9),
    _event({"email": "max@example.com", "phone": "+33611223344"}, "m3", 10),  # to be split
    _event({"email": "zed@example.com", "phone": "0000000"}, "z1", 11),  # a junk phone
]
REPUBLISHED = EVENTS[-1]  # sent twice: reported as not matched once


async def _snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(tuple(r) for r in await pool.fetch(query)) for name, query in TABLES.items()
    }


async def _one(pool: asyncpg.Pool, key: str) -> str:
    [customer] = await eventually(lambda: identity.customers_for(pool, key), bool, what=key)
    return customer


def _settings(topics: dict[str, str], broker: EmbeddedBroker, database_url: str) -> Settings:
    return pipeline_settings(topics).model_copy(
        update={
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "database_url": database_url,
            "kafka_idempotence": False,
            # Rebuilt into a fresh database, which holds no data keys: in clear.
            "seal_personal_data": False,
        }
    )


async def _people_decide(settings: Settings, pool: asyncpg.Pool) -> dict[str, str]:
    """Confirm Bob, reject Carl and Carla, split Max's merge; wait until applied."""
    who = {
        name: await _one(pool, key)
        for name, key in {
            "bob": "email:bob@example.com",
            "bobby": "email:bobby@example.org",
            "carl": "email:carl@example.com",
            "carla": "email:carla@example.org",
            "max": "email:max@example.com",
        }.items()
    }
    # Merged into Max's record: known by the event it was born from.
    who["max_phone"] = await pool.fetchval(
        "SELECT customer_id FROM identity_customers WHERE born_from = 'm2'"
    )
    confirm = ["confirm", who["bobby"], who["bob"], "--by", "rep-1", "--reason", "same person"]
    parse = cli.parser().parse_args
    assert await cli_identity.confirm(settings, parse(["identity", *confirm])) == 0
    reject = ["reject", who["carl"], who["carla"], "--by", "rep-2", "--at", "2026-03-02T10:00Z"]
    assert await cli_identity.reject(settings, parse(["identity", *reject])) == 0
    split = ["split", who["max"], who["max_phone"], "--by", "manager-3"]
    assert await cli_identity.split(settings, parse(["identity", *split])) == 0
    await eventually(
        lambda: identity.survivor_of(pool, who["max_phone"]),
        lambda s: s == who["max_phone"],
        what="the split applied",
    )
    return who


async def test_a_rebuild_from_the_log_keeps_every_decision_and_merged_at(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
    new_database: Callable[[], Awaitable[str]],
) -> None:
    settings = _settings(topics, broker, database_url)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], EVENTS)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], [REPUBLISHED])
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            lambda n: n >= len(EVENTS) + 1,
            what="the resolver through the events",
        )
        who = await _people_decide(settings, pool)
        in_log = len(await read_topic(broker.bootstrap_servers, topics["touchpoints"]))
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            lambda n: n >= in_log,
            what="the resolver through the decisions",
        )
    live = await _snapshot(pool)

    # What the people decided is in the graph ...
    assert await identity.survivor_of(pool, who["bobby"]) == who["bob"]
    [(a, b, rejected_by, reason, rejected_at)] = live["rejected"]
    assert (a, b) == tuple(sorted((who["carl"], who["carla"])))
    assert (rejected_by, reason, rejected_at) == (
        "rep-2",
        None,
        datetime(2026, 3, 2, 10, tzinfo=UTC),
    )
    assert tuple(sorted((who["max"], who["max_phone"]))) in live["kept_apart"]
    [junk] = [r for r in live["not_matched"] if r[0] == "phone:0000000"]
    assert junk[2] == "z1"
    merged_at = {(m[0], m[1]): m[4] for m in live["merges"]}
    assert len(merged_at) == 3, "Ann's and Max's by the resolver, Bob's by a person"
    assert merged_at[(await _one(pool, "email:ann@example.com"), _other_of(live, "a2"))] == (
        BASE_TIME + timedelta(hours=3)
    ), "an automatic merge happens when its event did"

    # ... and a rebuild from offset 0 into a fresh database reproduces all of it.
    rebuilt_url = await new_database()
    rebuilt_topics = topics | {"resolved": topics["resolved"] + ".rebuilt"}
    await ensure_topics(broker.bootstrap_servers, [rebuilt_topics["resolved"]], partitions=6)
    rebuilt_pool = await asyncpg.create_pool(rebuilt_url, min_size=1, max_size=4)
    try:
        rebuilt = _settings(rebuilt_topics, broker, rebuilt_url)
        async with pipeline(
            rebuilt, endpoints(broker.bootstrap_servers, rebuilt_url), rebuilt_pool
        ):
            await eventually(
                lambda: resolver_position(rebuilt_pool, topics["touchpoints"]),
                lambda n: n >= in_log,
                what="the rebuild through the whole log",
            )
        assert await _snapshot(rebuilt_pool) == live
    finally:
        await rebuilt_pool.close()


def _other_of(snapshot: dict[str, list[tuple[Any, ...]]], born_from: str) -> str:
    [customer] = [c[0] for c in snapshot["customers"] if c[2] == born_from]
    return str(customer)
