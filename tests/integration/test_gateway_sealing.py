"""The gateway seals for producers that cannot (non-Python channel systems): what reaches
the log has its personal fields sealed, its key is the subject's ref, and its headers and
the gateway's dedup table hold nothing personal."""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import msgspec
import pytest

from events import decode
from privacy.keys import KeyRing, MasterKey, PostgresKeyStore
from privacy.retention import Retention
from privacy.runtime import SealingConfig
from privacy.sealing import Opener, is_sealed
from tests.factories import event_dict
from tests.integration.gateway_support import gateway_app, in_process, write_key
from tests.integration.kafka_support import read_topic
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

EMAIL = "gateway.sealed@example.com"
NOTES = "Gateway caller's private note 5521"


def _native(message_id: str) -> dict[str, Any]:
    data = event_dict("call.logged", message_id=message_id)
    del data["source"]  # the write key's
    data["subject"] = {"email": EMAIL}
    data["payload"] = {**data["payload"], "notes": NOTES}
    return data


async def test_the_gateway_seals_personal_fields_before_the_log(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    master = MasterKey(os.urandom(32))
    sealing = SealingConfig(master, Retention(), 0.0, seal=True)
    key = await write_key(pool)
    app = gateway_app(
        broker.bootstrap_servers, database_url, topics["touchpoints"], sealing=sealing
    )
    async with in_process(app, key) as client:
        response = await client.post("/v1/events", json=_native("g-1"))
        assert response.status_code == 200, response.text
        again = await client.post("/v1/events", json=_native("g-1"))
        assert again.json()["status"] == "duplicate"

    [record] = await read_topic(broker.bootstrap_servers, topics["touchpoints"])
    assert record.value is not None
    blob = b"".join([record.key or b"", record.value, *(v for _, v in record.headers)])
    assert EMAIL.encode() not in blob
    assert NOTES.encode() not in blob
    assert record.key is not None
    assert len(record.key) == 32
    assert {name for name, _ in record.headers} == {"type", "schema_version"}
    logged = msgspec.json.decode(record.value)
    assert is_sealed(logged["subject"])
    assert is_sealed(logged["payload"]["notes"])

    (opened,) = await Opener(KeyRing(PostgresKeyStore(pool, master))).open_many([record.value])
    assert opened is not None
    assert not isinstance(opened, Exception)
    event = decode(opened.value)
    assert event.subject.email == EMAIL
    assert event.payload.notes == NOTES  # type: ignore[attr-defined]

    rows = await pool.fetch("SELECT * FROM gateway_accepted")
    assert [dict(r)["message_id"] for r in rows] == ["g-1"]
    assert not any(EMAIL in str(v) or NOTES in str(v) for r in rows for v in dict(r).values())
