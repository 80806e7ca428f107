"""A blue/green rebuild of the timeline from offset 0, against raw ``COPY`` of the same rows.

    python -m benchmarks.rebuild [--events 200000] [--subjects 20000] [--workers N]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL); creates a scratch database, writes the events to
a resolved topic as the resolver would — sealed by the SDK (``--clear``: in clear), with
the summary the resolver adds — then measures, in one run:

- raw aiokafka consumption of the topic: every record fetched, nothing decoded — what no
  rebuild can beat (it also warms the broker's caches for both rebuilds alike);
- the rebuild: ``touchlog projections rebuild timeline`` (new version, every partition,
  offset 0 → the end of the log), events/s, by one process (v2) and by ``--workers``
  processes (v3; default: as the CLI's, one per core, at most one per partition);
- raw ``COPY`` of the identical rows into an identical table (primary key + index);
- each against ``COPY``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
import uuid
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.support import (
    copy_timeline_seconds,
    drop_database,
    infrastructure,
    scratch_database,
)
from consumers.arrivals import Arrival, arrivals
from consumers.process import tune_gc
from events import Touchpoint
from events.codec import encode
from events.resolved import Resolved, resolved_value
from privacy.runtime import Keys, keys_for
from privacy.sealing import key_ids
from projections import versions
from projections.db import SERVER_SETTINGS
from projections.identity import IdentityRules
from projections.timeline.postgres import TABLE
from tests.factories import random_events
from touchlog import bootstrap, rebuild_workers, rebuilds
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings

PARTITIONS = 6


async def resolved_records(
    events: Sequence[Touchpoint], keys: Keys | None
) -> list[tuple[bytes, bytes]]:
    """(key, value) of each event as the resolver forwards it: as the SDK sealed it (with
    ``keys``), opened and validated by the resolver's own ``arrivals``, its summary added."""
    if keys is None or keys.sealer is None:
        values = [encode(e) for e in events]
        raw: dict[str, bytes | None] = {}
        nonce_key = None
    else:
        await keys.sealer.start()
        values = [value for _, value in await keys.sealer.seal(events)]
        raw = await keys.ring.raw_opening_keys(key_ids(values))
        nonce_key = keys.ring.nonce_key()
    records = []
    for event, arrival in zip(
        events, arrivals(IdentityRules(), values, raw, nonce_key), strict=True
    ):
        if not isinstance(arrival, Arrival):
            raise SystemExit(f"the resolver would refuse {event.message_id}: {arrival}")
        customer = event.subject.customer_id or ""
        records.append(
            (customer.encode(), resolved_value(customer, arrival.value, arrival.summary))
        )
    return records


async def publish_resolved(
    bootstrap_servers: str, topic: str, n: int, subjects: int, keys: Keys | None
) -> None:
    """The events as the resolver publishes them: keyed by customer, one per record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        events = random_events(n, subjects=subjects, seed=42)
        for start in range(0, n, 10_000):
            chunk = await resolved_records(events[start : start + 10_000], keys)
            sent = [await producer.send(topic, value, key=key) for key, value in chunk]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def consume_seconds(bootstrap_servers: str, topic: str, n: int) -> float:
    """Seconds for one aiokafka consumer, configured as a runner's reader, to fetch every
    record of ``topic`` from offset 0 (records parsed by aiokafka, values not decoded)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        fetched = 0
        while fetched < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            fetched += sum(len(records) for records in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def timed_rebuild(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    n: int,
    workers: int,
) -> tuple[int, float]:
    """A new version of the timeline rebuilt by ``workers`` processes: (version, seconds)."""
    started = time.perf_counter()
    rebuilt = await rebuilds.rebuild(settings, endpoints, pool, "timeline", workers=workers)
    seconds = time.perf_counter() - started
    rows = await pool.fetchval(
        f'SELECT count(*) FROM "{versions.namespace("timeline", rebuilt.version)}".{TABLE}'
    )
    if rows != n or rebuilt.events != n or rebuilt.resumed:
        raise SystemExit(f"expected {n} rows, rebuilt {rebuilt.events}, found {rows}")
    # Superseded, as a rebuild from another source would be: the next one begins anew.
    await pool.execute(
        "UPDATE view_versions SET state = 'retired', retired_at = now() "
        "WHERE view = 'timeline' AND version = $1",
        rebuilt.version,
    )
    return rebuilt.version, seconds


async def copy_rate(pool: asyncpg.Pool, n: int, subjects: int) -> float:
    """Seconds to ``COPY`` the rows the rebuild wrote into an identical, empty table."""
    events = random_events(n, subjects=subjects, seed=42)
    resolved = [Resolved(customer_id=e.subject.customer_id or "", event=e) for e in events]
    return await copy_timeline_seconds(pool, resolved)


async def bench(
    bootstrap_servers: str, server_url: str, n: int, subjects: int, sealed: bool, workers: int
) -> None:
    topic = f"bench.{uuid.uuid4().hex[:8]}.resolved"
    await ensure_topics(bootstrap_servers, [topic, topic + ".dlq"], partitions=PARTITIONS)
    url = await scratch_database(server_url)
    settings = Settings(
        topic_resolved=topic,
        topic_deadletter=topic + ".dlq",
        consumer_group=f"g-{topic}",
        master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        seal_personal_data=sealed,
        log_level="warning",  # the rebuild's worker processes log as configured here
    )
    endpoints = bootstrap.Endpoints(bootstrap_servers, url, False, True, False)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=6, server_settings=SERVER_SETTINGS)
    try:
        await bootstrap.create_tables(pool)
        keys = keys_for(settings, pool) if sealed else None
        how = "sealed" if sealed else "in clear"
        print(f"publishing {n:,} resolved events ({how}) for {subjects:,} customers ...")
        await publish_resolved(bootstrap_servers, topic, n, subjects, keys)
        tune_gc()
        consume_s = await consume_seconds(bootstrap_servers, topic, n)
        alone, alone_s = await timed_rebuild(settings, endpoints, pool, n, 1)
        shared, shared_s = await timed_rebuild(settings, endpoints, pool, n, workers)
        copy_s = await copy_rate(pool, n, subjects)
    finally:
        await pool.close()
        await drop_database(server_url, url)
    print()
    print(
        f"events                      {n:>10,}  "
        f"({PARTITIONS} partitions, {'sealed' if sealed else 'clear'})"
    )
    print(f"raw aiokafka consume        {n / consume_s:>10,.0f} events/s  ({consume_s:.1f} s)")
    print(f"rebuild, 1 process (v{alone})    {n / alone_s:>10,.0f} events/s  ({alone_s:.1f} s)")
    print(
        f"rebuild, {workers} workers (v{shared})    {n / shared_s:>10,.0f} events/s  "
        f"({shared_s:.1f} s)"
    )
    print(f"raw COPY of the same rows   {n / copy_s:>10,.0f} rows/s    ({copy_s:.1f} s)")
    print(f"consume / COPY              {copy_s / consume_s:>10.2f}")
    print(f"rebuild 1 process / COPY    {copy_s / alone_s:>10.2f}")
    print(f"rebuild {workers} workers / COPY    {copy_s / shared_s:>10.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--clear", action="store_true", help="records in clear, not sealed")
    parser.add_argument(
        "--workers",
        type=int,
        help="processes of the second rebuild (default: one per core, at most one per partition)",
    )
    args = parser.parse_args()
    workers = rebuild_workers.worker_count(
        "timeline", {"resolved": range(PARTITIONS)}, args.workers
    )
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap_servers, server_url):
        await bench(
            bootstrap_servers, server_url, args.events, args.subjects, not args.clear, workers
        )


if __name__ == "__main__":
    asyncio.run(main())
