"""The naive peer ``benchmarks.pipeline`` measures touchlog against: a faust agent that
decodes each event and writes it with one ``INSERT`` (one transaction) per event.

    PEER_BOOTSTRAP=... PEER_TOPIC=... PEER_DATABASE_URL=... PEER_APP_ID=... \
        python -m benchmarks.pipeline_peer

The settings that make a faust group join quickly on the embedded broker are touchlog's
(``consumers.triggers.app``), so that the peer is measured on the same footing.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from typing import Any

import asyncpg
import faust

TABLE = "peer_events"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    message_id text PRIMARY KEY,
    subject_key text NOT NULL,
    occurred_at timestamptz NOT NULL,
    type text NOT NULL,
    payload jsonb NOT NULL
)
"""
INSERT = (
    f"INSERT INTO {TABLE} (message_id, subject_key, occurred_at, type, payload) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
)


def _subject_key(subject: dict[str, Any]) -> str:
    return str(subject.get("customer_id") or subject.get("email") or subject.get("phone") or "")


def build() -> faust.App:
    env = os.environ
    app = faust.App(
        env["PEER_APP_ID"],
        broker=[f"kafka://{s}" for s in env["PEER_BOOTSTRAP"].split(",")],
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="touchlog-peer-"),
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
    )
    source = app.topic(
        env["PEER_TOPIC"],
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(source, name="store")
    async def store(stream: Any) -> None:
        conn = await asyncpg.connect(env["PEER_DATABASE_URL"])
        try:
            async for value in stream:
                event = json.loads(value)
                await conn.execute(
                    INSERT,
                    event["message_id"],
                    _subject_key(event["subject"]),
                    datetime.fromisoformat(event["occurred_at"]),
                    event["type"],
                    json.dumps(event["payload"]),
                )
        finally:
            await conn.close()

    return app


if __name__ == "__main__":
    worker = faust.Worker(build(), loglevel="WARNING", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()
