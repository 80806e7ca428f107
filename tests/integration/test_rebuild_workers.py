"""Rebuilds by several worker processes (``touchlog/rebuild_workers.py``), as users run them.

- ``touchlog projections rebuild timeline --workers 2``, its whole process group
  SIGKILLed halfway, resumes from its offsets and ends equal to the live version and to a
  version rebuilt from scratch; while it runs, a second rebuild of the version and a
  runner of it are refused (the parent holds the lock for its workers).
- A worker that dies fails the rebuild, naming it and its partitions; a rebuild that is
  cancelled stops its workers (none is left behind) and resumes where they stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg
import pytest

from consumers.versioned import VersionBusy, VersionedCheckpoints
from producers import Publisher
from projections import versions
from tests.factories import random_events
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.integration.test_rebuilds import applied, at_least, contents, live_timeline
from tests.waiting import eventually
from touchlog import bootstrap, rebuilds
from touchlog.embedded import EmbeddedBroker
from touchlog.rebuild_workers import WorkerFailed

pytestmark = pytest.mark.integration

SHARES = ({0, 2, 4}, {1, 3, 5})
"""The partitions of each of two shares (round-robin over the topic's six): the first
applied by the rebuild's own process, the second by its worker process."""


def processes() -> dict[int, tuple[str, int, int, bytes]]:
    """Every process: (state, parent, process group, command line)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        state, parent, group = text[text.rindex(")") + 2 :].split()[:3]
        found[int(stat.parent.name)] = (state, int(parent), int(group), cmdline)
    return found


def workers_of(parent: int) -> set[int]:
    """The rebuild worker processes ``parent`` started that are still running."""
    return {
        pid
        for pid, (state, ppid, _, cmdline) in processes().items()
        if ppid == parent and state != "Z" and b"touchlog.rebuild_worker" in cmdline
    }


def in_group(group: int) -> set[int]:
    return {pid for pid, (state, _, g, _) in processes().items() if g == group and state != "Z"}


async def shares_applied(pool: asyncpg.Pool, topic: str) -> list[int]:
    """Events the version 2 rebuild has applied, per share of the partitions."""
    rows = await pool.fetch(
        "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = $1 AND topic = $2",
        "timeline_v1@v2",
        topic,
    )
    return [sum(r["next_offset"] for r in rows if r["partition"] in share) for share in SHARES]


async def test_a_multiprocess_rebuild_killed_halfway_resumes_to_the_same_result(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(topics, batch_max_records=250)
    ends = endpoints(broker.bootstrap_servers, database_url)
    count = 30_000
    env = await live_timeline(settings, ends, pool, tmp_path, count, seed=11)
    command = [sys.executable, "-m", "touchlog.cli", "projections", "rebuild", "timeline"]
    # A process group of its own: the workers are in it, and it is killed as a whole.
    rebuild = await asyncio.create_subprocess_exec(
        *command,
        "--workers",
        "2",
        env=env,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Both processes are applying their shares.
        await eventually(
            lambda: shares_applied(pool, topics["resolved"]),
            lambda per_share: all(n > 0 for n in per_share) and sum(per_share) >= count // 5,
        )
        assert len(workers_of(rebuild.pid)) == 1
        # Meanwhile no second rebuild, and no runner, may write version 2.
        with pytest.raises(VersionBusy):
            await rebuilds.rebuild(settings, ends, pool, "timeline", workers=2)
        busy = VersionedCheckpoints(pool, "timeline", database_url, version=2)
        with pytest.raises(VersionBusy):
            await busy.prepare(bootstrap.VERSIONED["timeline"].schema)
    finally:
        os.killpg(rebuild.pid, signal.SIGKILL)
        await rebuild.wait()
    await eventually(lambda: asyncio.to_thread(in_group, rebuild.pid), lambda left: not left)
    killed_at = await applied(pool, "timeline_v1@v2", topics["resolved"])
    assert killed_at < count, "killed halfway, not at the end"

    resumed = await rebuilds.rebuild(settings, ends, pool, "timeline", workers=2)
    assert (resumed.version, resumed.resumed) == (2, True)
    assert resumed.events == count - killed_at, "resumed from its offsets, not from offset 0"
    assert await contents(pool, "timeline", 2) == await contents(pool, "timeline", 1)
    # And equal to a version rebuilt from scratch, by one process.
    switched = await rebuilds.switch(settings, ends, pool, "timeline", workers=2)
    assert switched.switched_from == 1
    scratch = await rebuilds.rebuild(settings, ends, pool, "timeline", workers=1)
    assert (scratch.version, scratch.resumed, scratch.events) == (3, False, count)
    assert await contents(pool, "timeline", 3) == await contents(pool, "timeline", 2)


async def test_a_dead_worker_fails_the_rebuild_and_a_cancelled_one_leaves_none_behind(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
) -> None:
    settings = pipeline_settings(topics, batch_max_records=250)
    ends = endpoints(broker.bootstrap_servers, database_url)
    count = 20_000
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(random_events(count, 500, seed=13))
    async with pipeline(settings, ends, pool):
        await eventually(lambda: applied(pool, "timeline_v1", topics["resolved"]), at_least(count))
    me = os.getpid()

    # A worker killed as soon as it runs: the rebuild fails, naming it.
    rebuild = asyncio.create_task(rebuilds.rebuild(settings, ends, pool, "timeline", workers=2))
    [started] = await eventually(
        lambda: asyncio.to_thread(workers_of, me), lambda pids: len(pids) == 1
    )
    os.kill(started, signal.SIGKILL)
    with pytest.raises(
        WorkerFailed, match=r"timeline v2's worker 2 \(partitions of \S+ 1, 3, 5\) stopped"
    ):
        await rebuild

    # A rebuild cancelled halfway stops its workers, which commit as they stop.
    rebuild = asyncio.create_task(rebuilds.rebuild(settings, ends, pool, "timeline", workers=2))
    await eventually(
        lambda: shares_applied(pool, topics["resolved"]),
        lambda per_share: all(n > 0 for n in per_share),
    )
    rebuild.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rebuild
    assert workers_of(me) == set()
    stopped_at = await applied(pool, "timeline_v1@v2", topics["resolved"])
    resumed = await rebuilds.rebuild(settings, ends, pool, "timeline", workers=2)
    assert (resumed.version, resumed.resumed) == (2, True)
    assert resumed.events == count - stopped_at
    assert await contents(pool, "timeline", 2) == await contents(pool, "timeline", 1)
    assert {v.version: v.state for v in await versions.versions(pool, "timeline")} == {
        1: "live",
        2: "ready",
    }


async def test_identity_is_rebuilt_by_one_process(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    settings = pipeline_settings(topics)
    ends = endpoints(broker.bootstrap_servers, database_url)
    await bootstrap.create_tables(pool)
    with pytest.raises(versions.VersionError, match="identity is rebuilt by one process"):
        await rebuilds.rebuild(settings, ends, pool, "identity", workers=2)
