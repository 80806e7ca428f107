"""Exactly-once effect: the stream stages, a separate process, SIGKILLed mid-stream 5 times.

The process runs the identity resolver and the timeline (``touchlog runner``). After
the kills and a final restart, the identity graph, the resolved topic and the
timeline equal those of an uninterrupted run over the same log.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from producers import Publisher
from projections.timeline.postgres import count_rows
from tests.factories import identity_events
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration

TOTAL = 20_000
TIMELINE = (
    "SELECT subject_key, source_system, message_id, occurred_at, type, channel, business_unit, "
    "summary, payload::text, campaign_code FROM timeline_v1 ORDER BY subject_key, message_id"
)
GRAPH = [
    "SELECT customer_id, born_at, born_from, merged_into FROM identity_customers "
    "ORDER BY customer_id",
    "SELECT identifier, customer_id, message_id FROM identity_links ORDER BY 1, 2",
    "SELECT survivor, merged, message_id FROM identity_merges ORDER BY 1, 2, 3",
]


def _start(
    bootstrap: str, database_url: str, topics: dict[str, str], tmp: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "DATABASE_URL": database_url,
        "TOUCHLOG_TOPIC_TOUCHPOINTS": topics["touchpoints"],
        "TOUCHLOG_TOPIC_RESOLVED": topics["resolved"],
        "TOUCHLOG_TOPIC_DEADLETTER": topics["deadletter"],
        "TOUCHLOG_BATCH_MAX_RECORDS": "500",  # many commit points to land a kill between
        "TOUCHLOG_IDENTITY_BATCH_MAX_RECORDS": "500",
        "TOUCHLOG_DATA_DIR": str(tmp),
        "TOUCHLOG_LOG_LEVEL": "warning",
    }
    with (tmp / "runner.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "touchlog.cli", "runner", "--partitions", "0,1,2,3,4,5"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _log_tail(tmp: Path) -> str:
    return (tmp / "runner.log").read_text()[-3000:]


async def test_sigkill_at_5_random_moments_leaves_exactly_the_clean_result(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> None:
    events = identity_events(TOTAL, people=1_500, seed=5)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)

    crashed_url = await new_database()
    crashed = await asyncpg.create_pool(crashed_url, min_size=1, max_size=2)
    rng = random.Random(11)
    thresholds = sorted(rng.sample(range(1_000, TOTAL - 1_000), 5))
    try:
        for threshold in thresholds:
            process = _start(broker.bootstrap_servers, crashed_url, topics, tmp_path)
            try:
                await eventually(
                    lambda p=process: _rows(crashed, p, tmp_path),
                    lambda n, t=threshold: n >= t,
                    timeout=120,
                    interval=0.005,
                    what=f"{threshold} rows",
                )
                # A random extra instant, so the kill lands anywhere inside a batch.
                await asyncio.sleep(rng.random() * 0.05)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            assert await _rows(crashed) < TOTAL, "every kill should land mid-stream"

        process = _start(broker.bootstrap_servers, crashed_url, topics, tmp_path)
        try:
            await eventually(
                lambda: _done(crashed, topics),
                lambda n: n == (TOTAL, TOTAL),
                timeout=180,
                what="both stages at the end of their input",
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert process.returncode == 0, _log_tail(tmp_path)
        assert await count_rows(crashed) == TOTAL
        crashed_state = [await crashed.fetch(q) for q in [TIMELINE, *GRAPH]]
    finally:
        await crashed.close()
    crashed_resolved = await _resolved(broker.bootstrap_servers, topics["resolved"])

    clean_topics = {**topics, "resolved": topics["resolved"] + ".clean"}
    await ensure_topics(broker.bootstrap_servers, [clean_topics["resolved"]], partitions=6)
    clean_url = await new_database()
    clean = await asyncpg.create_pool(clean_url, min_size=1, max_size=4)
    try:
        ends = endpoints(broker.bootstrap_servers, clean_url)
        async with pipeline(pipeline_settings(clean_topics), ends, clean):
            await eventually(
                lambda: count_rows(clean),
                lambda n: n == TOTAL,
                timeout=180,
                what="clean run complete",
            )
        clean_state = [await clean.fetch(q) for q in [TIMELINE, *GRAPH]]
    finally:
        await clean.close()
    clean_resolved = await _resolved(broker.bootstrap_servers, clean_topics["resolved"])

    merges = len(clean_state[3])
    assert merges > 100, f"the workload should exercise merges ({merges})"
    for crashed_rows, clean_rows in zip(crashed_state, clean_state, strict=True):
        assert [tuple(r) for r in crashed_rows] == [tuple(r) for r in clean_rows]
    assert crashed_resolved == clean_resolved
    assert {m for _, m in crashed_resolved if m.startswith("id-")} == {
        e.message_id for e in events
    }, "no event missing downstream"


async def _resolved(bootstrap: str, topic: str) -> set[tuple[str, str]]:
    """(customer, message id) of every record, replays included (they must be identical)."""
    records = await read_topic(bootstrap, topic)
    return {
        (r["customer_id"], r["event"]["message_id"])  # not sealed: read without the keys
        for r in (json.loads(record.value) for record in records)
    }


async def _rows(
    pool: asyncpg.Pool, process: subprocess.Popen[bytes] | None = None, tmp: Path | None = None
) -> int:
    if process is not None and tmp is not None and process.poll() is not None:
        raise AssertionError(f"runner exited early: {_log_tail(tmp)}")
    try:
        return await count_rows(pool)
    except asyncpg.UndefinedTableError:
        return 0  # the first runner has not created its tables yet


async def _done(pool: asyncpg.Pool, topics: dict[str, str]) -> tuple[int, int]:
    """(touchpoints the resolver committed, timeline rows)."""
    try:
        resolved = await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = $1",
            topics["touchpoints"],
        )
        return int(resolved), await count_rows(pool)
    except asyncpg.UndefinedTableError:
        return 0, 0
