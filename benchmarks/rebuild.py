"""A blue/green rebuild of the timeline from offset 0, against raw ``COPY`` of the same rows.

    python -m benchmarks.rebuild [--events 200000] [--subjects 20000]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL); creates a scratch database, writes the events to
a resolved topic as the resolver would — sealed by the SDK (``--clear``: in clear), with
the summary the resolver adds — then measures, in one run:

- the rebuild: ``touchlog projections rebuild timeline`` (new version, every partition,
  offset 0 → the end of the log), events/s;
- raw ``COPY`` of the identical rows into an identical table (primary key + index);
- their ratio.
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
from aiokafka import AIOKafkaProducer

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
from projections.db import SERVER_SETTINGS
from projections.identity import IdentityRules
from projections.timeline.postgres import TABLE
from tests.factories import random_events
from touchlog import bootstrap, rebuilds
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings


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


async def copy_rate(pool: asyncpg.Pool, n: int, subjects: int) -> float:
    """Seconds to ``COPY`` the rows the rebuild wrote into an identical, empty table."""
    events = random_events(n, subjects=subjects, seed=42)
    resolved = [Resolved(customer_id=e.subject.customer_id or "", event=e) for e in events]
    return await copy_timeline_seconds(pool, resolved)


async def bench(
    bootstrap_servers: str, server_url: str, n: int, subjects: int, sealed: bool
) -> None:
    topic = f"bench.{uuid.uuid4().hex[:8]}.resolved"
    await ensure_topics(bootstrap_servers, [topic, topic + ".dlq"], partitions=6)
    url = await scratch_database(server_url)
    settings = Settings(
        topic_resolved=topic,
        topic_deadletter=topic + ".dlq",
        consumer_group=f"g-{topic}",
        master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        seal_personal_data=sealed,
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
    print(
        f"events                      {n:>10,}  (6 partitions, {'sealed' if sealed else 'clear'})"
    )
    print(f"timeline rebuild (v2)       {n / rebuild_s:>10,.0f} events/s  ({rebuild_s:.1f} s)")
    print(f"raw COPY of the same rows   {n / copy_s:>10,.0f} rows/s    ({copy_s:.1f} s)")
    print(f"rebuild / COPY              {copy_s / rebuild_s:>10.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--clear", action="store_true", help="records in clear, not sealed")
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap_servers, server_url):
        await bench(bootstrap_servers, server_url, args.events, args.subjects, not args.clear)


if __name__ == "__main__":
    asyncio.run(main())
