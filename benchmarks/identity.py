"""Identity resolution throughput and caller-lookup latency at scale.

    python -m benchmarks.identity [--customers 100000] [--events 1000000] [--lookups 2000]

Publishes ``--events`` touchpoints about ``--customers`` people, each known by an
email, a mobile written in varying national/international forms and a loyalty
number; each event carries one or two of them. Then, in one run:

- resolver throughput: the identity stage alone, from start until it has committed
  every event (events/s);
- the timeline stage catches up (caller cards read from it);
- caller lookup over real HTTP (uvicorn on localhost), a phone number written in a
  random format per request: p50 / p99 / max latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx

from benchmarks.support import CpuShare, drop_database, infrastructure, scratch_database
from consumers.process import tune_gc
from producers import Publisher
from projections.db import SERVER_SETTINGS
from projections.identity import IdentityRules
from projections.timeline.postgres import count_rows
from tests.factories import _written_phone, identity_events
from touchlog import bootstrap, embedded
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings


async def _committed(pool: asyncpg.Pool, topic: str) -> int:
    value = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = $1", topic
    )
    return int(value)


async def _until(probe, done, every: float = 0.2, label: str = "") -> None:  # type: ignore[no-untyped-def]
    last = time.perf_counter()
    while not done(value := await probe()):
        await asyncio.sleep(every)
        if time.perf_counter() - last > 5:
            last = time.perf_counter()
            print(f"  ... {label} {value:,}", flush=True)


async def bench(
    bootstrap_servers: str,
    server_url: str,
    customers: int,
    n: int,
    lookups: int,
    *,
    keep: bool = False,
) -> None:
    run = uuid.uuid4().hex[:8]
    topics = {
        "touchpoints": f"bench.{run}.tp",
        "resolved": f"bench.{run}.resolved",
        "deadletter": f"bench.{run}.dlq",
    }
    await ensure_topics(bootstrap_servers, topics.values(), partitions=6)
    t0 = time.perf_counter()
    async with Publisher(
        bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        for start in range(0, n, 50_000):
            chunk = identity_events(
                min(50_000, n - start),
                customers,
                seed=start + 1,
                first_id=start,
                per_unit_style=True,
            )
            await publisher.publish_many(chunk)
            print(f"  published {start + len(chunk):,}", flush=True)
    publish_s = time.perf_counter() - t0
    tune_gc()

    url = await scratch_database(server_url)
    pool = await asyncpg.create_pool(url, min_size=2, max_size=8, server_settings=SERVER_SETTINGS)
    settings = Settings(
        topic_touchpoints=topics["touchpoints"],
        topic_resolved=topics["resolved"],
        topic_deadletter=topics["deadletter"],
        consumer_group=f"bench-{run}",
    )
    ends = bootstrap.Endpoints(bootstrap_servers, url, False, True, False)
    rules = IdentityRules()
    try:
        await bootstrap.create_tables(pool)
        stop = asyncio.Event()
        t0 = time.perf_counter()
        cpu = CpuShare()
        task = asyncio.create_task(
            bootstrap.run_stages(
                settings, ends, pool, stop, ("identity",), list(range(6)), rules=rules
            )
        )
        await _until(
            lambda: _committed(pool, topics["touchpoints"]), lambda v: v >= n, label="resolved"
        )
        resolve_s = time.perf_counter() - t0
        resolve_cpu = cpu.report()
        stop.set()
        await task
        print(
            f"resolver (identity stage)     {n / resolve_s:>10,.0f} events/s  ({resolve_s:.1f} s)",
            flush=True,
        )
        print(f"  {resolve_cpu}", flush=True)
        customers_made = await pool.fetchval(
            "SELECT count(*) FROM identity_customers WHERE merged_into IS NULL"
        )
        merges = await pool.fetchval("SELECT count(*) FROM identity_merges")

        # Every event, plus one customer.merged per merge decision, was published.
        expected = n + await pool.fetchval("SELECT count(DISTINCT message_id) FROM identity_merges")
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.create_task(
            bootstrap.run_stages(
                settings, ends, pool, stop, ("timeline",), list(range(6)), rules=rules
            )
        )
        await _until(
            lambda: _committed(pool, topics["resolved"]),
            lambda v: v >= expected,
            label="timeline read",
        )
        timeline_s = time.perf_counter() - t0
        stop.set()
        await task
        print(
            f"timeline over resolved        {n / timeline_s:>10,.0f} events/s  "
            f"({timeline_s:.1f} s)",
            flush=True,
        )
        # As autovacuum would after a load this size: fresh statistics for the planner.
        await pool.execute("ANALYZE")
        if (rows := await count_rows(pool)) != n:
            raise SystemExit(f"expected {n:,} timeline rows, found {rows:,}")

        latencies, found = await measure_lookups(url, customers, lookups)
    finally:
        await pool.close()
        if keep:
            print(f"kept database {url}")
        else:
            await drop_database(server_url, url)

    latencies.sort()
    print()
    print(
        f"events {n:,} about {customers:,} people -> {customers_made:,} customers, "
        f"{merges:,} merges"
    )
    print(f"publish (SDK, acks=all)       {n / publish_s:>10,.0f} events/s")
    print(f"resolver (identity stage)     {n / resolve_s:>10,.0f} events/s  ({resolve_s:.1f} s)")
    print(f"  {resolve_cpu}")
    print(f"timeline over resolved        {n / timeline_s:>10,.0f} events/s  ({timeline_s:.1f} s)")
    _print_lookups(latencies, found, lookups)


def _print_lookups(latencies: list[float], found: int, lookups: int) -> None:
    print(
        f"caller lookup over HTTP       p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms, max {latencies[-1]:.2f} ms "
        f"({lookups:,} lookups, {found:,} found)"
    )


async def measure_lookups(url: str, customers: int, lookups: int) -> tuple[list[float], int]:
    """Caller lookups against ``touchlog api`` in its own process, as deployed: the client's
    own work is not counted against the server's event loop."""
    port = embedded.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TOUCHLOG_API_PORT": str(port),
        "TOUCHLOG_LOG_LEVEL": "warning",
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
        "TOUCHLOG_API_TOKENS": json.dumps({"bench-token": {"role": "agent", "name": "bench"}}),
    }
    server = subprocess.Popen(  # noqa: ASYNC220  # our own CLI, started once
        [sys.executable, "-m", "touchlog.cli", "api"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        embedded.wait_for_port("127.0.0.1", port, timeout=30)
        rng = random.Random(3)
        latencies: list[float] = []
        found = 0
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench-token"}
        ) as http:
            for i in range(lookups + 100):
                phone = _written_phone(rng, f"6{rng.randrange(customers):08d}")
                t = time.perf_counter()
                response = await http.get("/lookup", params={"phone": phone})
                elapsed = (time.perf_counter() - t) * 1000
                response.raise_for_status()
                if i >= 100:  # the first 100 warm connections and statement caches
                    latencies.append(elapsed)
                    found += bool(response.json()["candidates"])
        return latencies, found
    finally:
        server.terminate()
        server.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--keep-database", action="store_true", help="for inspection")
    parser.add_argument(
        "--lookups-only",
        metavar="DATABASE_URL",
        help="only measure caller lookups against a database kept by an earlier run",
    )
    args = parser.parse_args()
    configure_logging("console", "warning")
    if args.lookups_only:
        latencies, found = await measure_lookups(args.lookups_only, args.customers, args.lookups)
        _print_lookups(sorted(latencies), found, args.lookups)
        return
    with infrastructure() as (servers, server_url):
        await bench(
            servers, server_url, args.customers, args.events, args.lookups, keep=args.keep_database
        )


if __name__ == "__main__":
    asyncio.run(main())
