"""Exactly-once effect: the runner, a separate process, SIGKILLed mid-stream 5 times."""

from __future__ import annotations

import asyncio
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
from tests.factories import random_events
from tests.integration.runner_support import make_runner, running
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

TOTAL = 20_000
ROWS = (
    "SELECT subject_key, source_system, message_id, occurred_at, type, channel, business_unit, "
    "summary, payload::text, campaign_code FROM timeline_v1 ORDER BY subject_key, message_id"
)


def _start_runner(
    bootstrap: str, database_url: str, topics: dict[str, str], tmp: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "DATABASE_URL": database_url,
        "TOUCHLOG_TOPIC_TOUCHPOINTS": topics["touchpoints"],
        "TOUCHLOG_TOPIC_DEADLETTER": topics["deadletter"],
        "TOUCHLOG_BATCH_MAX_RECORDS": "500",  # many commit points to land a kill between
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
    events = random_events(TOTAL, subjects=500, seed=5)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)

    crashed_url = await new_database()
    crashed = await asyncpg.create_pool(crashed_url, min_size=1, max_size=2)
    rng = random.Random(11)
    thresholds = sorted(rng.sample(range(1_000, TOTAL - 1_000), 5))
    kills_mid_stream = 0
    try:
        for threshold in thresholds:
            process = _start_runner(broker.bootstrap_servers, crashed_url, topics, tmp_path)
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
            kills_mid_stream += await _rows(crashed) < TOTAL
        assert kills_mid_stream == 5, "every kill should land before the end of the stream"

        process = _start_runner(broker.bootstrap_servers, crashed_url, topics, tmp_path)
        try:
            await eventually(
                lambda: _committed(crashed, topics),
                lambda n: n == TOTAL,
                timeout=120,
                what="all offsets committed",
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert process.returncode == 0, _log_tail(tmp_path)
        assert await count_rows(crashed) == TOTAL
        crashed_rows = await crashed.fetch(ROWS)
    finally:
        await crashed.close()

    clean = await asyncpg.create_pool(await new_database(), min_size=1, max_size=4)
    try:
        async with running(make_runner(clean, broker.bootstrap_servers, topics)):
            await eventually(
                lambda: _committed(clean, topics),
                lambda n: n == TOTAL,
                timeout=120,
                what="clean run complete",
            )
        clean_rows = await clean.fetch(ROWS)
    finally:
        await clean.close()
    assert [tuple(r) for r in crashed_rows] == [tuple(r) for r in clean_rows]


async def _rows(
    pool: asyncpg.Pool, process: subprocess.Popen[bytes] | None = None, tmp: Path | None = None
) -> int:
    if process is not None and tmp is not None and process.poll() is not None:
        raise AssertionError(f"runner exited early: {_log_tail(tmp)}")
    try:
        return await count_rows(pool)
    except asyncpg.UndefinedTableError:
        return 0  # the first runner has not created its tables yet


async def _committed(pool: asyncpg.Pool, topics: dict[str, str]) -> int:
    try:
        value = await pool.fetchval(
            "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = $1",
            topics["touchpoints"],
        )
    except asyncpg.UndefinedTableError:
        return 0
    return int(value)
