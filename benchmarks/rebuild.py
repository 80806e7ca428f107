"""A blue/green rebuild of the timeline from offset 0, against raw ``COPY`` of the same rows.

    python -m benchmarks.rebuild [--events 200000] [--subjects 20000]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL); creates a scratch database, writes the events to
a resolved topic as the resolver would, then measures, in one run:

- the rebuild: ``touchlog projections rebuild timeline`` (new version, every partition,
  offset 0 → the end of the log), events/s;
- raw ``COPY`` of the identical rows into an identical table (primary key + index);
- their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer

from benchmarks.support import (
    copy_timeline_seconds,
    drop_database,
    infrastructure,
    scratch_database,
)
from consumers.process import tune_gc
from events.codec import encode
from events.resolved import Resolved, resolved_value
from projections.db import SERVER_SETTINGS
from projections.timeline.postgres import TABLE
from tests.factories import random_events
from touchlog import bootstrap, rebuilds
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings


async def publish_resolved(bootstrap_servers: str, topic: str, n: int, subjects: int) -> None:
    """The events as the resolver publishes them: keyed by customer, one per record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        events = random_events(n, subjects=subjects, seed=42)
        for start in range(0, n, 10_000):
            sent = [
                await producer.send(
                    topic,
                    resolved_value(e.subject.customer_id or "", encode(e)),
                    key=(e.subject.customer_id or "").encode(),
                )
                for e in events[start : start + 10_000]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def copy_rate(pool: asyncpg.Pool, n: int, subjects: int) -> float:
    """Seconds to ``COPY`` the rows the rebuild wrote into an identical, empty table."""
    events = random_events(n, subjects=subjects, seed=42)
    resolved = [Resolved(customer_id=e.subject.customer_id or "", event=e) for e in events]
    return await copy_timeline_seconds(pool, resolved)


async def bench(bootstrap_servers: str, server_url: str, n: int, subjects: int) -> None:
    topic = f"bench.{uuid.uuid4().hex[:8]}.resolved"
    await ensure_topics(bootstrap_servers, [topic, topic + ".dlq"], partitions=6)
    print(f"publishing {n:,} resolved events for {subjects:,} customers ...", flush=True)
    await publish_resolved(bootstrap_servers, topic, n, subjects)
    tune_gc()
    url = await scratch_database(server_url)
    settings = Settings(
        topic_resolved=topic, topic_deadletter=topic + ".dlq", consumer_group=f"g-{topic}"
    )
    endpoints = bootstrap.Endpoints(bootstrap_servers, url, False, True, False)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=6, server_settings=SERVER_SETTINGS)
    try:
        await bootstrap.create_tables(pool)
        started = time.perf_counter()
        rebuilt = await rebuilds.rebuild(settings, endpoints, pool, "timeline")
        rebuild_s = time.perf_counter() - started
        rows = await pool.fetchval(f"SELECT count(*) FROM touchlog_timeline_v2.{TABLE}")
        if rows != n or rebuilt.events != n:
            raise SystemExit(f"expected {n} rows, rebuilt {rebuilt.events}, found {rows}")
        copy_s = await copy_rate(pool, n, subjects)
    finally:
        await pool.close()
        await drop_database(server_url, url)
    print()
    print(f"events                      {n:>10,}  (6 partitions)")
    print(f"timeline rebuild (v2)       {n / rebuild_s:>10,.0f} events/s  ({rebuild_s:.1f} s)")
    print(f"raw COPY of the same rows   {n / copy_s:>10,.0f} rows/s    ({copy_s:.1f} s)")
    print(f"rebuild / COPY              {copy_s / rebuild_s:>10.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap_servers, server_url):
        await bench(bootstrap_servers, server_url, args.events, args.subjects)


if __name__ == "__main__":
    asyncio.run(main())
