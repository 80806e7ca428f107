"""Issue 11: ``touchlog up --demo`` — the stages in consumer groups, as users run them —
gives exactly the identity graph, resolved records and timeline of a ``--partitions``
replay of the same log: every event once, each under the same customer, no dead letter.

One run per build; ``TOUCHLOG_FAULT_DEMO_RUNS=5 pytest tests/faults/test_demo_runs.py`` is
the five-run acceptance.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from events import topics
from privacy.keys import SCHEMA as KEYS_SCHEMA
from projections.db import create_tables
from tests.faults.pipeline_processes import (
    PARTITIONS,
    StageProcess,
    behind,
    high_watermarks,
    stored_offsets,
)
from tests.integration.conftest import master_key, new_database, server_url  # noqa: F401
from tests.integration.kafka_support import read_topic
from tests.integration.test_crash_recovery import GRAPH, TIMELINE
from tests.waiting import eventually
from touchlog.embedded import free_port
from touchlog.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration

RUNS = int(os.environ.get("TOUCHLOG_FAULT_DEMO_RUNS", "1"))
DEADLINE_S = 180.0
ALL_PARTITIONS = ",".join(str(p) for p in range(PARTITIONS))


def _env(**values: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("TOUCHLOG_") and k != "DATABASE_URL"
    }
    return base | {"TOUCHLOG_LOG_LEVEL": "info"} | values


class Projected:
    """Where the identity and timeline stages of one database stand against the log."""

    def __init__(self, bootstrap: str, pool: asyncpg.Pool, touchpoints: str, resolved: str):
        self.bootstrap, self.pool = bootstrap, pool
        self.touchpoints, self.resolved = touchpoints, resolved

    async def lag(self) -> dict[str, int]:
        """Records of each stage's input not yet applied (resolved read after identity)."""
        ends = await high_watermarks(self.bootstrap, self.touchpoints)
        identity = await stored_offsets(self.pool, "identity_v1", self.touchpoints)
        resolved = await high_watermarks(self.bootstrap, self.resolved)
        timeline = await stored_offsets(self.pool, "timeline_v1", self.resolved)
        return {"identity": behind(identity, ends), "timeline": behind(timeline, resolved)}

    async def state(self) -> dict[str, object]:
        records = await read_topic(self.bootstrap, self.resolved)
        return {
            "graph": [[tuple(r) for r in await self.pool.fetch(q)] for q in GRAPH],
            "timeline": [tuple(r) for r in await self.pool.fetch(TIMELINE)],
            "resolved": Counter(
                (r.key, json.loads(r.value)["event"]["message_id"]) for r in records
            ),
            "dead letters": await self.pool.fetchval("SELECT count(*) FROM dead_letters"),
        }


async def _until_projected(projected: Projected, processes: list[StageProcess], what: str) -> None:
    async def lag() -> dict[str, int]:
        for p in processes:
            assert p.running(), f"{p.name} exited ({p.exit_code()}) before {what}:\n{p.tail()}"
        return await projected.lag()

    try:
        await eventually(lag, lambda n: not any(n.values()), timeout=DEADLINE_S, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n" + "\n".join(p.tail() for p in processes)) from None


@pytest.mark.parametrize("run", range(1, RUNS + 1))
async def test_demo_in_groups_equals_a_partitions_replay_of_its_log(
    run: int,
    new_database: Callable[[], Awaitable[str]],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    up_url, replay_url = await new_database(), await new_database()
    up = StageProcess(
        "up --demo",
        ["up", "--demo"],
        _env(
            DATABASE_URL=up_url,
            TOUCHLOG_DATA_DIR=str(tmp_path / "data"),
            TOUCHLOG_API_PORT=str(free_port()),
            TOUCHLOG_GATEWAY_PORT=str(free_port()),
        ),
        tmp_path / "up.log",
    )
    up.start()
    replay: list[StageProcess] = []
    up_pool = await asyncpg.create_pool(up_url, min_size=1, max_size=2)
    replay_pool = await asyncpg.create_pool(replay_url, min_size=1, max_size=2)
    try:
        banner = await eventually(
            lambda: _output(up),
            lambda text: "demo: published" in text,
            timeout=120,
            what="`touchlog up --demo` publishing the demo",
        )
        bootstrap = re.search(r"Kafka bootstrap\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        published = int(re.search(r"demo: published (\d+) events", banner).group(1))  # type: ignore[union-attr]
        live = Projected(bootstrap, up_pool, topics.TOUCHPOINTS, topics.RESOLVED)
        await _until_projected(live, [up], "the demo projected in group mode")
        grouped = await live.state()

        replay_topics = {
            "TOUCHLOG_TOPIC_RESOLVED": f"replay{run}.resolved",
            "TOUCHLOG_TOPIC_DEADLETTER": f"replay{run}.deadletter",
            "TOUCHLOG_TOPIC_TRIGGERS": f"replay{run}.triggers",
            "TOUCHLOG_TOPIC_TRIGGERS_SUPPRESSED": f"replay{run}.triggers.suppressed",
            "TOUCHLOG_TOPIC_TRIGGER_COMMANDS": f"replay{run}.trigger-commands",
        }
        env = _env(
            TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            TOUCHLOG_KAFKA_IDEMPOTENCE="false",
            DATABASE_URL=replay_url,
            TOUCHLOG_DATA_DIR=str(tmp_path / "replay"),
            TOUCHLOG_MASTER_KEY_FILE=str(tmp_path / "data" / "master.key"),  # restored too
            **replay_topics,
        )
        # The data keys are not in the log: a replay into another database needs the key
        # store, which an operator restores with the database (docs/PRIVACY.md).
        await copy_key_store(up_pool, replay_pool)
        # Created before anything reads them: a metadata request for a missing topic makes
        # the embedded broker create it with one partition.
        await ensure_topics(bootstrap, replay_topics.values(), partitions=PARTITIONS)
        for stage in ("identity", "timeline"):
            args = ["runner", "--stage", stage, "--partitions", ALL_PARTITIONS]
            replay.append(StageProcess(f"replay {stage}", args, env, tmp_path / f"{stage}.log"))
            replay[-1].start()
        resolved_again = Projected(
            bootstrap,
            replay_pool,
            topics.TOUCHPOINTS,
            replay_topics["TOUCHLOG_TOPIC_RESOLVED"],
        )
        await _until_projected(resolved_again, [up, *replay], "the --partitions replay")
        replayed = await resolved_again.state()
        touchpoints = Counter(
            json.loads(r.value)["message_id"] for r in await read_topic(bootstrap, live.touchpoints)
        )
        deadletter = [
            *await read_topic(bootstrap, topics.DEADLETTER),
            *await read_topic(bootstrap, replay_topics["TOUCHLOG_TOPIC_DEADLETTER"]),
        ]
    finally:
        for process in replay:
            process.stop()
        code = up.stop(signal.SIGINT)
        await up_pool.close()
        await replay_pool.close()

    resolved = grouped["resolved"]
    assert isinstance(resolved, Counter)
    once = Counter(m for _, m in resolved.elements())
    summary = (
        f"demo run {run}: {published} events published, {sum(touchpoints.values())} in the log, "
        f"{sum(resolved.values())} resolved records, {len(grouped['timeline'])} timeline rows "
        f"(replay: {sum(replayed['resolved'].values())}, {len(replayed['timeline'])}); "
        f"{len(grouped['graph'][2])} merges; {time.monotonic() - began:.0f} s"
    )
    with capsys.disabled():
        print(f"\n{summary}")
    assert code == 0, up.tail()
    assert sum(touchpoints.values()) == published, summary
    twice = {m: once[m] for m in touchpoints if once[m] != 1}
    assert not twice, f"touchpoints not resolved exactly once (times): {_first(twice)}"
    for name in ("graph", "resolved", "timeline"):
        differing = _differing(grouped[name], replayed[name])
        assert not differing, f"{name}: {differing} rows differ from the replay's; {summary}"
    assert grouped["dead letters"] == replayed["dead letters"] == 0
    assert not deadletter, f"dead letters on the topics: {len(deadletter)}"


async def _output(process: StageProcess) -> str:
    assert process.running(), f"{process.name} exited ({process.exit_code()}):\n{process.tail()}"
    return process.latest_output()


def _differing(mine: object, theirs: object) -> int:
    """Rows in one and not the other (a multiset of records, or lists of table rows)."""
    if isinstance(mine, Counter) and isinstance(theirs, Counter):
        return sum(((mine - theirs) + (theirs - mine)).values())
    if isinstance(mine, list) and isinstance(theirs, list) and mine and isinstance(mine[0], list):
        return sum(_differing(a, b) for a, b in zip(mine, theirs, strict=True))
    assert isinstance(mine, list), mine
    assert isinstance(theirs, list), theirs
    return len(set(mine) ^ set(theirs)) + abs(len(mine) - len(theirs))


def _first(items: dict[str, int], n: int = 5) -> str:
    return ", ".join(f"{k}: {v}" for k, v in list(items.items())[:n]) + (
        f" … ({len(items)} in all)" if len(items) > n else ""
    )


async def copy_key_store(source: asyncpg.Pool, target: asyncpg.Pool) -> None:
    """The data keys (wrapped) and the subject pepper, copied as they are."""
    async with source.acquire() as conn:
        secrets = await conn.fetch("SELECT name, wrapped FROM privacy_secrets")
        keys = await conn.fetch(
            "SELECT key_id, subject_ref, period, expires_at, wrapped, created_at, shredded_at, "
            "shred_reason FROM privacy_keys"
        )
    async with target.acquire() as conn:
        await create_tables(conn, KEYS_SCHEMA)
        await conn.executemany(
            "INSERT INTO privacy_secrets (name, wrapped) VALUES ($1, $2)",
            [tuple(r) for r in secrets],
        )
        if keys:
            await conn.copy_records_to_table(
                "privacy_keys", records=[tuple(r) for r in keys], columns=list(keys[0].keys())
            )
