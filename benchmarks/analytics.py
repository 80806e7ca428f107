"""Analytics on years of history: every report's latency from the rollups, and what the
metrics projection costs beside the timeline and the profile on the same batches.

    python -m benchmarks.analytics --customers 6500 --years 5

Loads ``producers.demo.history`` (the year to date and ``--years`` before it) through the
metrics view in batches of 5,000 as the runner writes them (facts, then one transaction),
timing ``changes`` + ``write``; every ``--sample``-th batch also goes through the timeline
and the profile views, each timed the same way. Then each report runs ``--runs`` times
over a pool, as the API asks for it (its default period), and prints p50 / p99 / max.
No broker: the log's cost is not the metrics' (see benchmarks/timeline.py for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.support import drop_database, scratch_database
from producers.demo.history import PLANTED, history_events
from projections import db
from projections.metrics.postgres import MetricsView
from projections.metrics.readers import Analytics, AnalyticsPolicy, Ask, Report
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from projections.triggers.model import Audience, Kind, Trigger, trigger_id
from projections.triggers.postgres import SCHEMA as TRIGGERS_SCHEMA
from projections.triggers.postgres import TriggerStore
from touchlog import embedded

BATCH = 5000


async def _timed(pool: asyncpg.Pool, view: Any, batch: Sequence[Any]) -> float:
    started = time.perf_counter()
    changes = view.changes(batch)
    async with pool.acquire() as conn, conn.transaction():
        await view.write(conn, changes)
    return time.perf_counter() - started


async def load(pool: asyncpg.Pool, customers: int, years: int, sample: int) -> dict[str, Any]:
    views: dict[str, Any] = {
        "metrics": MetricsView(),
        "timeline": TimelineView(),
        "profile": ProfileView(),
    }
    async with pool.acquire() as conn:
        await db.create_tables(conn, *(s for v in views.values() for s in v.schema))
        await db.create_tables(conn, TRIGGERS_SCHEMA)
    spent = dict.fromkeys(views, 0.0)
    sampled = {"events": 0, "metrics": 0.0}
    events, batches, generating = history_events(customers, years), 0, 0.0
    total = 0
    while True:
        started = time.perf_counter()
        batch = list(islice(events, BATCH))
        generating += time.perf_counter() - started
        if not batch:
            break
        took = await _timed(pool, views["metrics"], batch)
        spent["metrics"] += took
        if batches % sample == 0:
            sampled["events"] += len(batch)
            sampled["metrics"] += took
            for name in ("timeline", "profile"):
                spent[name] += await _timed(pool, views[name], batch)
        batches += 1
        total += len(batch)
        if batches % 40 == 0:
            print(f"  {total:,} events loaded", flush=True)
    return {"events": total, "generating": generating, "spent": spent, "sampled": sampled}


async def offers(pool: asyncpg.Pool, count: int) -> None:
    """``count`` marketing triggers offering a category to customers who bought one (the
    trigger report joins them with the purchases)."""
    bought = await pool.fetch(
        "SELECT customer_id, category, day FROM metrics_bought_v1 TABLESAMPLE SYSTEM (5) LIMIT $1",
        count,
    )
    triggers = []
    for n, row in enumerate(bought):
        at = datetime.combine(row["day"], datetime.min.time(), UTC) - timedelta(days=n % 60)
        evidence = (f"bench-{n}",)
        triggers.append(
            Trigger(
                trigger_id=trigger_id("next-best-offer", row["customer_id"], evidence),
                rule="next-best-offer",
                rule_type="cross_sell",
                customer_id=row["customer_id"],
                kind=Kind.MARKETING,
                audience=Audience.MARKETING,
                channel="email",
                reason="benchmark",
                evidence=evidence,
                created_at=at,
                expires_at=at + timedelta(days=30),
                offer=row["category"],
            )
        )
    async with pool.acquire() as conn, conn.transaction():
        await TriggerStore().apply(conn, triggers)


async def latencies(pool: asyncpg.Pool, runs: int) -> dict[str, list[float]]:
    reports = Analytics(pool, AnalyticsPolicy(campaign_costs=PLANTED.campaign_costs(1)))
    found: dict[str, list[float]] = {r.value: [] for r in Report}
    for _ in range(runs):
        for report in Report:
            started = time.perf_counter()
            await reports.report(report, Ask())
            found[report.value].append(time.perf_counter() - started)
    return found


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def main(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        server = os.environ.get("DATABASE_URL") or stack.enter_context(
            embedded.embedded_postgres(Path(tempfile.mkdtemp(prefix="touchlog-bench-")))
        )
        await run(args, server)


async def run(args: argparse.Namespace, server: str) -> None:
    url = await scratch_database(server, "touchlog_bench_analytics")
    pool = await db.create_pool(url, min_size=2, max_size=4)
    try:
        print(f"loading {args.years} years (+ this one), {args.customers} customers at start")
        loaded = await load(pool, args.customers, args.years, args.sample)
        print_load(loaded)
        await offers(pool, args.triggers)
        await pool.execute("VACUUM ANALYZE")
        sizes = await pool.fetch(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables "
            "WHERE relname LIKE 'metrics%' ORDER BY relname"
        )
        found = await latencies(pool, args.runs)
    finally:
        await pool.close()
        if not args.keep:
            await drop_database(server, url)
    print("rollup rows: " + ", ".join(f"{r['relname']} {r['n_live_tup']:,}" for r in sizes))
    print(f"\nreport ({args.runs} runs)      p50        p99        max")
    for name, times in found.items():
        q = statistics.quantiles(times, n=100, method="inclusive")
        print(f"{name:<20} {_ms(q[49])} {_ms(q[98])} {_ms(max(times))}")


def print_load(loaded: dict[str, Any]) -> None:
    events, spent, sampled = loaded["events"], loaded["spent"], loaded["sampled"]
    print(f"\n{events:,} events ({datetime.now(UTC):%Y-%m-%d}), generated in "
          f"{loaded['generating']:.0f} s")  # fmt: skip
    print(f"metrics projection: {spent['metrics']:.1f} s for all, "
          f"{events / spent['metrics']:,.0f} events/s")  # fmt: skip
    n = sampled["events"]
    per = {"metrics": sampled["metrics"] / n, **{k: spent[k] / n for k in ("timeline", "profile")}}
    share = per["metrics"] / sum(per.values())
    each = ", ".join(f"{k} {v * 1e6:.0f}" for k, v in per.items())
    print(f"on the same {n:,} sampled events, µs per event: {each}; metrics' share {share:.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=6500)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--sample", type=int, default=10, help="Every n-th batch to compare.")
    parser.add_argument("--triggers", type=int, default=20_000, help="Marketing triggers.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    asyncio.run(main(parser.parse_args()))
