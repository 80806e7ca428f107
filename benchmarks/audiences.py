"""Audiences: the projection's cost per event, and member-list latency for a big audience.

    python -m benchmarks.audiences [--customers 100000] [--events 100000] [--requests 500]

1. **Cost per event.** ``--events`` resolved events (profile updates, consents, purchases,
   complaints, calls) about ``--events / 5`` customers, applied by the audiences view in
   batches of 5,000 inside transactions, as the runner applies them (changes + write, in
   PostgreSQL), against four audiences of ``examples/audiences/marketing.yaml``. The
   profile view's write of the same batches is measured in the same run, as the reference.
   The collector is tuned as in every touchlog process (``consumers.process.tune_gc``).
   Kafka's share (consume + decode, ~100,000 events/s here) is not included.
2. **Member-list latency.** ``--customers`` customers who all granted marketing by email
   are applied (one audience of everyone by email), then ``GET /audiences/{name}/members
   ?channel=email&limit=100`` is asked ``--requests`` times at random places in the list
   (cursor = a random member), through the API in this process: p50 / p95 / p99 / max;
   then the whole list as CSV, once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api import create_app
from api.auth import Caller
from api.roles import Role
from benchmarks.support import drop_database, scratch_database
from consumers.process import tune_gc
from events.resolved import Resolved
from projections import db
from projections.audiences import parse_audiences
from projections.audiences.postgres import AudienceView
from projections.profile.postgres import ProfileView
from tests.factories import BASE_TIME
from tests.profile_support import ADDRESSES, EMAILS, NAMES, PHONES, touch
from touchlog import config_files, embedded

BATCH = 5000
EXAMPLE = Path(__file__).parents[1] / "examples" / "audiences" / "marketing.yaml"
EVERYONE = {"audiences": [{"name": "everyone", "channels": ["email"]}]}


def _event(rng: random.Random, customer: str, n: int) -> Resolved:
    at = BASE_TIME + timedelta(days=n, minutes=rng.randint(0, 600))
    kind = rng.choice(
        ["profile.updated", "consent.changed", "purchase.completed", "complaint", "call.logged"]
    )
    mid = f"{customer}-{n}"
    if kind == "profile.updated":
        payload: dict[str, Any] = {
            "name": rng.choice(NAMES),
            "emails": rng.choice(EMAILS),
            "phones": rng.choice(PHONES),
            "addresses": rng.choice(ADDRESSES),
        }
    elif kind == "consent.changed":
        payload = {
            "purpose": "marketing",
            "channel": rng.choice(["email", "sms", "mail", None]),
            "status": rng.choice(["granted", "granted", "revoked"]),
            "legal_basis": "consent",
            "captured_via": "web",
        }
    elif kind == "purchase.completed":
        category = rng.choice(["garden", "kitchen", "opera", "tools"])
        price = rng.choice(["20.00", "300.00", "1200.00"])
        line = {"sku": "SKU-1", "category": category, "quantity": 1, "unit_price": price}
        payload = {
            "order_id": mid,
            "lines": [line],
            "currency": "EUR",
            "total": price,
            "payment_method": "card",
        }
    elif kind == "complaint":
        kind = rng.choice(["complaint.opened", "complaint.resolved"])
        payload = (
            {"case_id": "C-1", "category": "delivery", "severity": "low", "description": "late"}
            if kind == "complaint.opened"
            else {"case_id": "C-1", "resolution": "refund", "resolved_by": "agent-7"}
        )
    else:
        payload = {
            "direction": "inbound",
            "duration_seconds": 60,
            "reason": "delivery",
            "outcome": "ok",
        }
    return Resolved(
        customer_id=customer, event=touch(kind, payload, at=at, message_id=mid, customer=customer)
    )


async def _apply(pool: asyncpg.Pool, view: Any, events: list[Resolved]) -> float:
    """Seconds the view takes over ``events``, batch by batch, each in a transaction."""
    elapsed = 0.0
    async with pool.acquire() as conn:
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            began = time.perf_counter()
            async with conn.transaction():
                await view.write(conn, view.changes(batch))
            elapsed += time.perf_counter() - began
    return elapsed


async def cost_per_event(server_url: str, count: int) -> None:
    rng = random.Random(1)
    customers = max(count // 5, 1)
    events = [_event(rng, f"c{rng.randrange(customers):07d}", n) for n in range(count)]
    audiences = config_files.load(EXAMPLE, parse_audiences)
    for name, view in (
        ("audiences", AudienceView(audiences)),
        ("profile (reference)", ProfileView()),
    ):
        url = await scratch_database(server_url)
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=2, server_settings=db.SERVER_SETTINGS
        )
        try:
            async with pool.acquire() as conn:
                await db.create_tables(conn, *view.schema, *view.shared_schema)
            seconds = await _apply(pool, view, events)
            print(
                f"{name:>20}: {count:,} events in {seconds:.1f} s = {seconds / count * 1e6:.0f} µs "
                f"per event ({count / seconds:,.0f} events/s), {len(audiences.audiences)} audiences"
                if name == "audiences"
                else f"{name:>20}: {count:,} events in {seconds:.1f} s = "
                f"{seconds / count * 1e6:.0f} µs per event ({count / seconds:,.0f} events/s)"
            )
        finally:
            await pool.close()
            await drop_database(server_url, url)


def _member(n: int) -> list[Resolved]:
    customer = f"m{n:07d}"
    profile = {
        "name": NAMES[n % 3],
        "emails": [{"use": "personal", "address": f"{customer}@example.com"}],
    }
    consent = {
        "purpose": "marketing",
        "channel": "email",
        "status": "granted",
        "legal_basis": "consent",
        "captured_via": "web",
    }
    return [
        Resolved(
            customer_id=customer,
            event=touch(
                "profile.updated",
                profile,
                at=BASE_TIME,
                message_id=f"{customer}-p",
                customer=customer,
            ),
        ),
        Resolved(
            customer_id=customer,
            event=touch(
                "consent.changed",
                consent,
                at=BASE_TIME + timedelta(hours=1),
                message_id=f"{customer}-c",
                customer=customer,
            ),
        ),
    ]


async def member_list_latency(server_url: str, customers: int, requests: int) -> None:
    url = await scratch_database(server_url)
    view = AudienceView(parse_audiences(EVERYONE))
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, server_settings=db.SERVER_SETTINGS
    )
    try:
        async with pool.acquire() as conn:
            await db.create_tables(conn, *view.schema, *view.shared_schema)
        events = [e for n in range(customers) for e in _member(n)]
        seconds = await _apply(pool, view, events)
        members = await pool.fetchval("SELECT count(*) FROM audience_members_v1 WHERE member")
        await pool.execute("ANALYZE")  # as autovacuum would have by now
        print(f"{'population':>20}: {members:,} members, {len(events):,} events, {seconds:.1f} s")
        app = create_app(url, tokens={"t": Caller("bench", Role.MARKETING)})
        rng = random.Random(2)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": "Bearer t"},
            ) as http,
        ):
            latencies = []
            for _ in range(requests):
                cursor = f"m{rng.randrange(customers):07d}"
                began = time.perf_counter()
                response = await http.get(
                    "/audiences/everyone/members",
                    params={"channel": "email", "limit": 100, "cursor": cursor},
                )
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise SystemExit(f"unexpected answer: {response.status_code} {response.text}")
            q = statistics.quantiles([x * 1000 for x in latencies], n=100)
            print(
                f"{'member list page':>20}: {requests} pages of 100 members of {members:,}: "
                f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms"
            )
            began = time.perf_counter()
            export = await http.get("/audiences/everyone/members.csv", params={"channel": "email"})
            took = time.perf_counter() - began
            rows = export.text.count("\n") - 1
            print(f"{'CSV export':>20}: {rows:,} members in {took:.2f} s")
    finally:
        await pool.close()
        await drop_database(server_url, url)


async def main(args: argparse.Namespace) -> None:
    tune_gc()  # as every touchlog process does (touchlog.cli_common)
    with contextlib.ExitStack() as stack:  # PostgreSQL only: no broker is measured here
        server_url = os.environ.get("DATABASE_URL") or stack.enter_context(
            embedded.embedded_postgres(Path(tempfile.mkdtemp(prefix="touchlog-bench-")))
        )
        await cost_per_event(server_url, args.events)
        await member_list_latency(server_url, args.customers, args.requests)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
