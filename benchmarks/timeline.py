"""End-to-end timeline projection rate vs. the raw PostgreSQL COPY rate of the same rows.

    python -m benchmarks.timeline [--events 200000] [--subjects 20000]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL); creates a scratch database, publishes
the events, then measures, in one run:

- publish rate (SDK, acks=all);
- end-to-end projection rate: runner started → every event in the timeline;
- raw COPY rate of the identical rows into an identical table (primary key +
  index), the ceiling the runner is measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from benchmarks.support import (
    copy_timeline_seconds,
    drop_database,
    infrastructure,
    scratch_database,
)
from consumers.process import tune_gc
from consumers.runner import RunnerConfig
from producers import Publisher
from projections.db import SERVER_SETTINGS
from projections.timeline.postgres import TimelineView, count_rows
from tests.factories import random_events
from touchlog.bootstrap import projection_runner
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging


async def bench(bootstrap: str, server_url: str, n: int, subjects: int) -> None:
    topic = f"bench.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic, topic + ".dlq"], partitions=6)
    print(f"generating {n:,} events for {subjects:,} subjects ...", flush=True)
    events = random_events(n, subjects=subjects, seed=42)
    size = sum(len(e.model_dump_json()) for e in events[:1000]) / 1000

    t0 = time.perf_counter()
    async with Publisher(bootstrap, topic=topic, idempotence=False) as publisher:
        for i in range(0, n, 10_000):
            await publisher.publish_many(events[i : i + 10_000])
    publish_s = time.perf_counter() - t0

    del events  # the runner process does not hold the workload in memory
    tune_gc()  # as `touchlog runner` does at start

    url = await scratch_database(server_url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2, server_settings=SERVER_SETTINGS)
    try:
        runner = projection_runner(
            RunnerConfig(
                bootstrap, topic, topic + ".dlq", "bench", idempotence=False, partitions=range(6)
            ),
            pool,
            TimelineView(),
        )
        await runner.prepare()
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.create_task(runner.run(stop))
        last_report = t0
        while runner.applied < n:
            await asyncio.sleep(0.05)
            if task.done():
                await task
            if time.perf_counter() - last_report > 2:
                last_report = time.perf_counter()
                print(f"  ... {runner.applied:,} applied", flush=True)
        e2e_s = time.perf_counter() - t0
        stop.set()
        await task
        if (rows_in_view := await count_rows(pool)) != n:
            raise SystemExit(f"expected {n} timeline rows, found {rows_in_view}")

        copy_s = await copy_timeline_seconds(pool, random_events(n, subjects=subjects, seed=42))
    finally:
        await pool.close()
        await drop_database(server_url, url)

    print()
    print(f"events                      {n:>10,}  (~{size:.0f} bytes JSON each, 6 partitions)")
    print(f"publish (SDK, acks=all)     {n / publish_s:>10,.0f} events/s")
    print(f"end-to-end projection       {n / e2e_s:>10,.0f} events/s  ({e2e_s:.1f} s)")
    print(f"raw COPY of the same rows   {n / copy_s:>10,.0f} rows/s    ({copy_s:.1f} s)")
    print(f"projection / COPY           {copy_s / e2e_s:>10.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap, server_url):
        await bench(bootstrap, server_url, args.events, args.subjects)


if __name__ == "__main__":
    asyncio.run(main())
