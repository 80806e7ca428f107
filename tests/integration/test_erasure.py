"""Issue 14, acceptance 2, 3 and 5 on the real PostgreSQL: every table is classified, an
erasure refuses while one is not and lists every store in its receipt, it purges or
anonymises every table that held the customer's personal data and leaves another
customer's alone; the export states every fact of the customer's events; retention
shreds the keys and anonymises the rows of events past their period, and only those."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaProducer

from api import create_app
from api.audit_log import record_access
from api.auth import Caller
from api.roles import Role
from events import Touchpoint
from events.resolved import resolved_value
from privacy import runtime
from privacy.erasure import SCHEMA as RECEIPTS
from privacy.erasure import Erasure, UnknownCustomer
from privacy.export import export
from privacy.keys import KeyRing, MasterKey, PostgresKeyStore
from privacy.log_history import identity_history
from privacy.retention import Retention
from privacy.retention_sweep import sweep
from privacy.sealing import ERASED, Opener, Sealer, personal_payload_fields
from privacy.stores import UnclassifiedTables, stores
from privacy.subjects import record
from projections import db
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from projections.triggers.postgres import TriggerStore
from projections.triggers.subscriptions import Subscription
from tests.integration.privacy_support import (
    EMAIL_A,
    EMAIL_B,
    NOW,
    A,
    B,
    all_tables,
    every_type,
    personal_values,
    rows_holding,
    strings,
    timeline_of,
)
from tests.integration.trigger_support import make_trigger, store
from touchlog import embedded
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

MASTER_BYTES = os.urandom(32)
MASTER = MasterKey(MASTER_BYTES)


@dataclass
class World:
    pool: asyncpg.Pool
    ring: KeyRing
    sealer: Sealer
    a: list[Touchpoint]
    b: list[Touchpoint]
    sealed_a: list[bytes]
    sealed_b: list[bytes]


async def build(pool: asyncpg.Pool, retention: Retention | None = None) -> World:
    await create_tables(pool)
    async with pool.acquire() as conn:
        await runtime.create_tables(conn)
        await db.create_tables(conn, RECEIPTS)
    ring = KeyRing(PostgresKeyStore(pool, MASTER), cache_seconds=0)
    await ring.start()
    sealer = Sealer(ring, retention)
    a, b = every_type(A, EMAIL_A, 7), every_type(B, EMAIL_B, 8)
    sealed_a = [value for _, value in await sealer.seal(a)]
    sealed_b = [value for _, value in await sealer.seal(b)]
    async with pool.acquire() as conn, conn.transaction():
        await record(conn, [(ring.subject_ref(A), A), (ring.subject_ref(B), B)])
        await TimelineView().apply(conn, [*a, *b])
        await ProfileView().apply(conn, [*a, *b])
        for customer, email in ((A, EMAIL_A), (B, EMAIL_B)):
            await conn.execute(
                "INSERT INTO identity_customers (customer_id, born_at, born_from) "
                "VALUES ($1, $2, 'm')",
                customer,
                NOW,
            )
            await conn.execute(
                "INSERT INTO identity_links (identifier, customer_id, source_system, "
                "message_id, linked_at) VALUES ($1, $2, 'crm', $3, $4)",
                f"email:{email}",
                customer,
                f"{customer}-0",
                NOW,
            )
            await conn.execute(
                "INSERT INTO identity_names (customer_id, given_name, family_name) "
                "VALUES ($1, 'given', $2)",
                customer,
                f"family-of-{customer}",
            )
            await conn.execute(
                "INSERT INTO gateway_accepted (source_system, message_id) VALUES ($1, $2)",
                a[0].source.system if customer == A else b[0].source.system,
                f"{customer}-0",
            )
            await record_access(
                conn,
                actor="Ann Agent",
                role="agent",
                action="lookup",
                customer_ids=[customer],
                tier="essential",
                reason="service",
                detail={"searched": email},
            )
        for i, (value, key) in enumerate(
            [
                (sealed_a[1], ring.subject_ref(A).encode()),
                (json.dumps({"subject": {"email": EMAIL_A}}).encode(), b"x"),
                (sealed_b[1], ring.subject_ref(B).encode()),
            ]
        ):
            await conn.execute(
                'INSERT INTO dead_letters (consumer, topic, partition, "offset", key, value, '
                "reason, failed_at) VALUES ('timeline_v1', 't', 0, $1, $2, $3, 'bad', now())",
                i,
                key,
                value,
            )
    await store(
        pool,
        [make_trigger("win-back", A), make_trigger("win-back", B)],
        TriggerStore([Subscription("crm")]),
    )
    return World(pool, ring, sealer, a, b, sealed_a, sealed_b)


@pytest.fixture
async def world(pool: asyncpg.Pool) -> World:
    return await build(pool)


def erasure() -> Erasure:
    return Erasure(MASTER, topics=["touchlog.touchpoints", "touchlog.resolved"])


async def test_every_table_of_every_stage_is_classified(pool: asyncpg.Pool) -> None:
    await build(pool)
    classified = {s.name if "." in s.name else f"public.{s.name}" for s in await stores(pool)}
    assert classified == set(await all_tables(pool))
    assert len(classified) > 40


async def test_erasure_refuses_while_a_table_is_unclassified_and_changes_nothing(
    world: World,
) -> None:
    await world.pool.execute("CREATE TABLE notes (customer_id text, note text)")
    before = await timeline_of(world.pool, A)

    with pytest.raises(UnclassifiedTables, match="table notes: no classification comment"):
        await erasure().erase(world.pool, A, reason="request", who="Max", role="manager")

    assert await timeline_of(world.pool, A) == before
    assert await world.pool.fetchval("SELECT count(*) FROM privacy_keys WHERE wrapped IS NULL") == 0
    assert await world.pool.fetchval("SELECT count(*) FROM privacy_erasures") == 0


async def test_a_malformed_classification_is_refused_too(world: World) -> None:
    await world.pool.execute("CREATE TABLE notes (customer_id text, note text)")
    await world.pool.execute(
        "COMMENT ON TABLE notes IS 'touchlog:personal customer=client action=delete'"
    )
    with pytest.raises(UnclassifiedTables, match=r"table notes: .*no such column \['client'\]"):
        await erasure().erase(world.pool, A, reason="request", who="Max", role="manager")


async def test_an_unknown_customer_or_a_blank_reason_is_refused(world: World) -> None:
    with pytest.raises(UnknownCustomer, match="'nobody'"):
        await erasure().erase(world.pool, "nobody", reason="r", who="Max", role="manager")
    with pytest.raises(ValueError, match="reason"):
        await erasure().erase(world.pool, A, reason="  ", who="Max", role="manager")


async def test_erasure_purges_every_copy_lists_every_store_and_keeps_the_other_customer(
    world: World,
) -> None:
    pool = world.pool
    b_timeline = await timeline_of(pool, B)
    a_rows = (await timeline_of(pool, A)).keys()
    assert len(a_rows) > 30
    b_facts = await pool.fetch(
        "SELECT * FROM profile_facts_v1 WHERE customer_id = $1 ORDER BY 1, 2, 3, 4, 5, 6", B
    )
    secret = personal_values(world.a) - strings(world.b) - strings(world.a, personal=False)
    secret.add(EMAIL_A)
    assert await rows_holding(pool, {EMAIL_A})  # the world holds A's data in clear at first

    receipt = await erasure().erase(pool, A, reason="GDPR art. 17", who="Max", role="manager")

    listed = {s.store for s in receipt.stores}
    assert {s.name for s in await stores(pool)} <= listed
    assert {"privacy_keys", "touchlog.touchpoints", "touchlog.resolved"} <= listed
    by_store = {s.store: s for s in receipt.stores}
    assert by_store["touchlog_profile_v1.profile_facts_v1"].rows
    assert by_store["touchlog_timeline_v1.timeline_v1"].action.endswith("read [erased])")
    assert by_store["dead_letters"].rows == 2
    assert by_store["gateway_accepted"].rows == 1
    assert by_store["touchlog_triggers_v1.triggers_v1"].rows == 1
    assert receipt.keys_shredded >= 1
    assert receipt.subjects == 1
    assert await rows_holding(pool, secret) == {}

    erased = await timeline_of(pool, A)
    assert erased.keys() == a_rows  # anonymised, not deleted
    events = {event.message_id: event for event in world.a}
    for message_id, row in erased.items():
        event = events[message_id]
        assert row["type"] == event.type
        clear = event.payload.model_dump(mode="json", exclude_none=True)
        for name, value in clear.items():
            if name in personal_payload_fields(event.type):
                assert row["payload"][name] == ERASED, (event.type, name)
            else:
                assert row["payload"][name] == value, (event.type, name)  # the books stay
    assert await timeline_of(pool, B) == b_timeline
    assert (
        await pool.fetch(
            "SELECT * FROM profile_facts_v1 WHERE customer_id = $1 ORDER BY 1, 2, 3, 4, 5, 6", B
        )
        == b_facts
    )
    (opened_a,) = await Opener(world.ring).open_many([world.sealed_a[0]])
    (opened_b,) = await Opener(world.ring).open_many([world.sealed_b[0]])
    assert opened_a is not None
    assert not isinstance(opened_a, Exception)
    assert opened_a.erased
    assert EMAIL_A.encode() not in opened_a.value
    assert opened_b is not None
    assert not isinstance(opened_b, Exception)
    assert not opened_b.erased
    assert EMAIL_B.encode() in opened_b.value
    audit = await pool.fetchrow(
        "SELECT who, reason, detail FROM access_audit_v1 WHERE endpoint = 'erasure'"
    )
    assert audit is not None
    assert audit["who"] == "Max"
    assert audit["reason"] == "GDPR art. 17"
    assert json.loads(audit["detail"])["receipt_id"] == receipt.receipt_id
    assert (
        await pool.fetchval(
            "SELECT receipt->>'customer_id' FROM privacy_receipts WHERE receipt_id = $1",
            receipt.receipt_id,
        )
        == A
    )

    # A view that still had A's key cached writes A's event after the erasure: the next
    # sweep purges it again.
    late = [e.model_copy(update={"message_id": f"late-{e.message_id}"}) for e in world.a]
    async with pool.acquire() as conn, conn.transaction():
        await ProfileView().apply(conn, late)
        await TimelineView().apply(conn, late)
    assert await rows_holding(pool, secret)
    swept = await sweep(pool, PostgresKeyStore(pool, MASTER), Retention(), NOW)
    assert swept.rows["customers erased in the last day (purged again)"] > 0
    assert await rows_holding(pool, secret) == {}


async def test_the_export_states_every_fact_of_every_event(
    world: World, broker: embedded.EmbeddedBroker, topics: dict[str, str]
) -> None:
    resolved = topics["resolved"]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for sealed in world.sealed_a:
            await producer.send_and_wait(resolved, resolved_value(A, sealed), key=A.encode())
        await producer.send_and_wait(resolved, resolved_value(B, world.sealed_b[5]), key=B.encode())
    finally:
        await producer.stop()
    opener = Opener(world.ring)

    async def history(ids: Sequence[str]) -> list[dict[str, Any]]:
        return await identity_history(broker.bootstrap_servers, resolved, ids, opener)

    async with world.pool.acquire() as conn:
        document = await export(
            conn, A, who="Max", role="manager", reason="subject request", history=history
        )

    assert document["customer_id"] == A
    stated = {
        entry["message_id"]: entry
        for entry in [*document["timeline"], *document["identity"]["history"]]
    }
    for event in world.a:
        entry = stated[event.message_id]
        assert entry["type"] == event.type
        assert entry["source_system"] == event.source.system
        assert entry["payload"] == event.payload.model_dump(mode="json", exclude_none=True)
    assert len(document["identity"]["history"]) == sum(
        e.type.startswith(("identity.", "customer.")) for e in world.a
    )
    facts = {(f["message_id"], f["kind"]) for f in document["profile"]["history"]}
    assert facts
    assert all(m.startswith(A) for m, _ in facts)
    assert all(f["kind"] == "consent" for f in document["consents"])
    assert any(f["message_id"].startswith(A) for f in document["consents"])
    assert [link["identifier"] for link in document["identity"]["links"]] == [f"email:{EMAIL_A}"]
    assert [t["customer_id"] for t in document["triggers"]] == [A]
    actions = [entry["endpoint"] for entry in document["access_audit"]]
    assert actions == ["lookup", "export"]  # the export lists itself
    assert document["access_audit"][-1]["id"] == document["export_audit_id"]
    assert EMAIL_B not in json.dumps(document)


async def test_retention_erases_what_is_past_its_period_and_keeps_the_rest(
    pool: asyncpg.Pool,
) -> None:
    short = Retention({"search.performed": 30})
    world = await build(pool, short)
    views = [e for e in world.a if e.type == "search.performed"]
    old, young = (
        views[0],
        views[0].model_copy(update={"message_id": "young", "occurred_at": NOW - timedelta(days=3)}),
    )
    old = old.model_copy(update={"message_id": "old", "occurred_at": NOW - timedelta(days=90)})
    sealed = [value for _, value in await world.sealer.seal([old, young])]
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, [old, young])

    swept = await sweep(pool, PostgresKeyStore(pool, MASTER), short, NOW)

    assert swept.keys_shredded >= 1
    assert swept.rows["touchlog_timeline_v1.timeline_v1"] >= 1
    rows = await timeline_of(pool, A)
    personal = personal_payload_fields("search.performed")
    assert personal
    for name in personal:
        if name in rows["old"]["payload"]:
            assert rows["old"]["payload"][name] == ERASED
        if name in rows["young"]["payload"]:
            assert rows["young"]["payload"][name] != ERASED
    assert rows["old"]["summary"] == ERASED
    assert rows["young"]["summary"] != ERASED
    assert rows["old"]["payload"].keys() == rows["young"]["payload"].keys()
    opened_old, opened_young = await Opener(world.ring).open_many(sealed)
    assert opened_old is not None
    assert not isinstance(opened_old, Exception)
    assert opened_young is not None
    assert not isinstance(opened_young, Exception)
    assert opened_old.erased
    assert not opened_young.erased
    assert msgspec.json.decode(opened_young.value)["payload"] == young.payload.model_dump(
        mode="json", exclude_none=True
    )
    again = await sweep(pool, PostgresKeyStore(pool, MASTER), short, NOW)
    assert again.keys_shredded == 0
    assert again.rows["touchlog_timeline_v1.timeline_v1"] == 0


async def test_the_routes_answer_managers_only_and_say_what_is_wrong(
    world: World, database_url: str
) -> None:
    tokens = {"t-agent": Caller("Ann", Role.AGENT), "t-manager": Caller("Max", Role.MANAGER)}
    agent, manager = ({"Authorization": f"Bearer {t}"} for t in tokens)
    app = create_app(database_url, tokens=tokens)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        body = {"reason": "GDPR art. 17"}
        assert (
            await http.post(f"/customers/{A}/erasure", json=body, headers=manager)
        ).status_code == 503
        app.state.erasure = erasure()
        refused = await http.post(f"/customers/{A}/erasure", json=body, headers=agent)
        assert refused.status_code == 403
        assert (await http.get(f"/customers/{A}/export", headers=agent)).status_code == 403
        blank = await http.post(f"/customers/{A}/erasure", json={"reason": " "}, headers=manager)
        assert blank.status_code == 422
        assert "reason" in blank.text
        unknown = await http.post("/customers/nobody/erasure", json=body, headers=manager)
        assert unknown.status_code == 404
        exported = await http.get(f"/customers/{A}/export", headers=manager)
        assert exported.status_code == 200
        assert EMAIL_A in exported.text
        assert exported.json()["identity"]["history_read_from_log"] is False

        erased = await http.post(f"/customers/{A}/erasure", json=body, headers=manager)

        assert erased.status_code == 200
        receipt = erased.json()
        assert receipt["erased_by"] == "Max"
        assert receipt["role"] == "manager"
        assert {s["store"] for s in receipt["stores"]} >= {"privacy_keys", "dead_letters"}
        again = await http.get(f"/customers/{A}/export", headers=manager)
        assert EMAIL_A not in again.text
        assert [e["receipt_id"] for e in again.json()["erasures"]] == [receipt["receipt_id"]]


async def _touchlog(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "touchlog.cli",
        *args,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_the_commands_export_erase_and_sweep(
    world: World,
    database_url: str,
    broker: embedded.EmbeddedBroker,
    topics: dict[str, str],
    tmp_path: Path,
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "TOUCHLOG_TOPIC_TOUCHPOINTS": topics["touchpoints"],
        "TOUCHLOG_TOPIC_RESOLVED": topics["resolved"],
        "TOUCHLOG_MASTER_KEY": base64.urlsafe_b64encode(MASTER_BYTES).decode(),
        "TOUCHLOG_DATA_DIR": str(tmp_path),
    }
    code, out, err = await _touchlog(env, "export", A, "--reason", "subject request")
    assert code == 0, err
    exported = json.loads(out)
    assert exported["customer_id"] == A
    assert exported["identity"]["history_read_from_log"] is True

    code, out, err = await _touchlog(env, "erase", A)
    assert code == 2
    assert "--reason" in err
    code, out, err = await _touchlog(env, "erase", "nobody", "--reason", "request")
    assert code == 1
    assert "no such customer" in err
    code, out, err = await _touchlog(env, "erase", A, "--reason", "request", "--by", "Max")
    assert code == 0, err
    assert f"customer {A}" in out
    assert "timeline_v1" in out
    assert "customer.erased published" in out
    assert EMAIL_A not in out

    code, out, err = await _touchlog(env, "retention", "run")
    assert code == 0, err
    assert "expired data keys shredded" in out


async def test_retention_shreds_keys_even_while_a_table_is_unclassified(
    pool: asyncpg.Pool,
) -> None:
    await build(pool, Retention({"search.performed": 30}))
    before = await timeline_of(pool, A)
    await pool.execute("CREATE TABLE notes (customer_id text, note text)")

    with pytest.raises(UnclassifiedTables, match=r"^\d+ expired keys shredded; .* table notes"):
        await sweep(pool, PostgresKeyStore(pool, MASTER), Retention(), NOW + timedelta(days=400))

    assert await pool.fetchval("SELECT count(*) FROM privacy_keys WHERE wrapped IS NULL") > 0
    assert await timeline_of(pool, A) == before
