"""Identity resolution end to end: touchpoints → resolver → resolved → timeline."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from events import from_mapping
from producers import Publisher
from projections.identity import postgres as identity
from projections.timeline.postgres import count_rows, fetch_timeline
from tests.factories import BASE_TIME, event_dict
from tests.integration.kafka_support import publish_in_order, read_topic
from tests.integration.pipeline_support import (
    decode_resolved,
    endpoints,
    pipeline,
    pipeline_settings,
)
from tests.waiting import eventually
from touchlog import cli_identity
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


def _event(subject: dict[str, Any], message_id: str, hours: int, **kw: Any) -> dict[str, Any]:
    data = event_dict(
        kw.pop("kind", "call.logged"),
        message_id=message_id,
        at=BASE_TIME + timedelta(hours=hours),
        **kw,
    )
    data["subject"] = subject
    return data


async def _timeline(pool: asyncpg.Pool, customer_id: str) -> list[str]:
    survivor = await identity.survivor_of(pool, customer_id)
    keys = await identity.merged_ids(pool, survivor) if survivor else [customer_id]
    page = await fetch_timeline(pool, keys, limit=200)
    return sorted(row["message_id"] for row in page.entries)


@pytest.mark.parametrize("helper_process", [True, False], ids=["helper", "in-process"])
async def test_written_forms_of_one_person_consolidate_and_merge_into_the_oldest(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
    helper_process: bool,
) -> None:
    events = [
        _event({"email": "Ann.Lee@Example.com"}, "e1", 1),
        _event({"phone": "06 28 23 04 55"}, "e2", 2),
        _event({"external_ids": [{"type": "loyalty", "id": "L-77"}]}, "e3", 3),
        # This one says the email and the phone are the same person: a merge.
        _event({"email": " ann.lee@example.COM", "phone": "+33 6 28 23 04 55"}, "e4", 4),
        _event({"phone": "0033628230455"}, "e5", 5),
        _event({"email": "someone.else@example.com", "phone": "01 23 45 67 89"}, "e6", 6),
    ]
    settings = pipeline_settings(topics, identity_helper_process=helper_process)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], events)
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        await eventually(lambda: count_rows(pool), lambda n: n >= 6, what="6 timeline rows")

    [ann] = await identity.customers_for(pool, "email:ann.lee@example.com")
    assert await identity.customers_for(pool, "phone:+33628230455") == [ann]
    assert ann == await identity.survivor_of(pool, ann)
    assert await _timeline(pool, ann) == ["e1", "e2", "e4", "e5"]
    [loyal] = await identity.customers_for(pool, "external_id:loyalty:L-77")
    assert loyal != ann
    merges = await pool.fetch("SELECT survivor, merged FROM identity_merges")
    assert len(merges) == 1
    assert merges[0]["survivor"] == ann, "the survivor is the older customer (born from e1)"
    assert await _timeline(pool, merges[0]["merged"]) == ["e1", "e2", "e4", "e5"]

    records = await read_topic(broker.bootstrap_servers, topics["resolved"])
    resolved = await decode_resolved(pool, [r.value for r in records])  # sealed: opened
    assert sorted(r.event.message_id for r in resolved if r.event.type == "call.logged") == [
        "e1",
        "e2",
        "e3",
        "e4",
        "e5",
        "e6",
    ]
    [merge_record] = [r for r in resolved if r.event.type == "customer.merged"]
    assert merge_record.customer_id == ann
    assert merge_record.event.causation_id == "e4"


async def test_a_wrong_merge_undone_by_a_split_restores_both_timelines(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> None:
    first = [
        _event({"email": "jo.smith@example.com"}, "a1", 1),
        _event({"email": "jo.smith@example.com"}, "a2", 2, kind="purchase.completed"),
        _event({"email": "joanna.smith@example.org", "phone": "06 12 34 56 78"}, "b1", 3),
        _event({"phone": "0612345678"}, "b2", 4, kind="email.received"),
    ]
    settings = pipeline_settings(topics)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], first)
        async with pipeline(settings, ends, pool):
            await eventually(lambda: count_rows(pool), lambda n: n >= 4, what="4 rows")
            [jo] = await identity.customers_for(pool, "email:jo.smith@example.com")
            [joanna] = await identity.customers_for(pool, "phone:+33612345678")
            before = {jo: await _timeline(pool, jo), joanna: await _timeline(pool, joanna)}
            assert before == {jo: ["a1", "a2"], joanna: ["b1", "b2"]}

            # A person wrongly confirms them as duplicates ...
            merge = _merge_event(jo, joanna, "m1", 5)
            await publisher.publish(merge)
            await eventually(
                lambda: _timeline(pool, joanna), lambda t: len(t) == 4, what="merged timeline"
            )
            assert await _timeline(pool, jo) == ["a1", "a2", "b1", "b2"]
            # ... and another undoes it.
            await publisher.publish(_split_event(jo, joanna, "s1", 6))
            await eventually(lambda: _timeline(pool, jo), lambda t: len(t) == 2, what="split")

    assert {jo: await _timeline(pool, jo), joanna: await _timeline(pool, joanna)} == before
    assert await identity.survivor_of(pool, joanna) == joanna
    assert await identity.customers_for(pool, "phone:+33612345678") == [joanna]


def _merge_event(survivor: str, merged: str, message_id: str, hours: int):
    data = _event({"customer_id": survivor}, message_id, hours, kind="call.logged")
    data |= {
        "type": "customer.merged",
        "payload": {
            "surviving_customer_id": survivor,
            "merged_customer_ids": [merged],
            "reason": "confirmed duplicate",
            "merged_by": "rep-12",
        },
    }
    data["source"]["channel"] = "app"
    return from_mapping(data)


def _split_event(original: str, new: str, message_id: str, hours: int):
    data = _event({"customer_id": original}, message_id, hours)
    data |= {
        "type": "customer.split",
        "payload": {
            "original_customer_id": original,
            "new_customer_id": new,
            "identifiers_moved": [
                {"type": "email", "value": "joanna.smith@example.org"},
                {"type": "phone", "value": "+33612345678"},
            ],
            "reason": "different people",
            "split_by": "manager-3",
            "reverses_merge": "m1",
        },
    }
    data["source"]["channel"] = "app"
    return from_mapping(data)


async def test_identity_split_command_undoes_an_automatic_merge(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> None:
    events = [
        _event({"email": "max@example.com"}, "x1", 1),
        _event({"phone": "06 11 22 33 44"}, "x2", 2),
        _event({"email": "MAX@example.com", "phone": "+33611223344"}, "x3", 3),  # the merge
    ]
    settings = pipeline_settings(topics).model_copy(
        update={
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "database_url": database_url,
            "kafka_idempotence": False,
        }
    )
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], events)
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        await eventually(lambda: count_rows(pool), lambda n: n >= 3, what="3 rows")
        survivor, merged = await pool.fetchrow("SELECT survivor, merged FROM identity_merges")
        args = argparse.Namespace(
            original=survivor,
            new=merged,
            identifier=[],
            by="manager-3",
            reason="different people",
            at=None,
            identity_command="split",
        )
        assert await cli_identity.split(settings, args) == 0
        await eventually(
            lambda: identity.survivor_of(pool, merged),
            lambda s: s == merged,
            what="the split applied",
        )
    assert await identity.customers_for(pool, "phone:+33611223344") == [merged]
    assert await _timeline(pool, merged) == ["x2"]
    assert await _timeline(pool, survivor) == ["x1", "x3"]
    bad = argparse.Namespace(
        original="nobody",
        new=merged,
        identifier=[],
        by="m",
        reason="r",
        at=None,
        identity_command="split",
    )
    assert await cli_identity.split(settings, bad) == 2
