"""Start an in-process timeline runner on test topics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from consumers.runner import ProjectionRunner, RunnerConfig
from projections.timeline.postgres import TimelineView


def make_runner(
    pool: asyncpg.Pool, bootstrap: str, topics: dict[str, str], *, group: str | None = None
) -> ProjectionRunner:
    config = RunnerConfig(
        bootstrap_servers=bootstrap,
        topic=topics["touchpoints"],
        deadletter_topic=topics["deadletter"],
        group_id=group or "unused",
        idempotence=False,
        partitions=None if group else range(6),
    )
    return ProjectionRunner(config, pool, TimelineView())


@contextlib.asynccontextmanager
async def running(runner: ProjectionRunner) -> AsyncIterator[ProjectionRunner]:
    await runner.prepare()  # tables exist before the test probes them
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await task
