"""Event → visible in the profile: latency at a steady publishing rate.

    python -m benchmarks.profile [--rate 1000] [--seconds 30] [--customers 2000] [--probe-every 10]

Runs the stream stages as deployed (identity resolver, timeline and profile, all reading
their 6 partitions) and publishes touchpoints at ``--rate`` events/s for ``--seconds``:
purchases, calls, profile updates, consents, surveys, complaints… about ``--customers``
customers. Every ``--probe-every``-th event is a probe: a profile update of a customer
of its own, timed from just before it is sent until its facts are committed in
PostgreSQL — from then on every profile read (which folds a customer's facts at read
time) shows it. Polled every 5 ms. Prints p50 / p95 / p99 / max, then the latency of
``GET /customers/{id}/profile`` for customers of the run.

``--profile-only`` publishes the events already resolved to ``touchlog.resolved`` and runs
the profile stage alone: its share of the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from api import create_app
from api.auth import Caller
from api.roles import Role
from benchmarks.support import drop_database, infrastructure, scratch_database
from consumers.process import tune_gc
from events import Touchpoint
from events.resolved import encode_resolved
from producers import Publisher
from projections.db import SERVER_SETTINGS
from projections.profile.postgres import FACTS
from tests.profile_support import ADDRESSES, EMAILS, NAMES, PHONES, touch
from touchlog import bootstrap
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings

TICK = 0.01


def _payloads(rng: random.Random, n: int) -> tuple[str, dict[str, Any]]:
    kind = rng.choices(
        [
            "purchase.completed",
            "call.logged",
            "profile.updated",
            "consent.changed",
            "survey.responded",
            "complaint.opened",
            "rewards.earned",
            "email.sent",
        ],
        weights=[30, 20, 15, 10, 8, 5, 7, 5],
    )[0]
    match kind:
        case "purchase.completed":
            price = rng.choice(["9.99", "49.00", "129.50"])
            return kind, {
                "order_id": f"O-{n}",
                "lines": [
                    {
                        "sku": f"SKU-{rng.randrange(50)}",
                        "category": "garden",
                        "quantity": 1,
                        "unit_price": price,
                    }
                ],
                "currency": "EUR",
                "total": price,
                "payment_method": rng.choice(["card", "cash"]),
            }
        case "call.logged":
            return kind, {
                "direction": "inbound",
                "duration_seconds": 90,
                "reason": "delivery",
                "outcome": "ok",
            }
        case "profile.updated":
            return kind, {
                "name": rng.choice(NAMES),
                "addresses": rng.choice(ADDRESSES),
                "phones": rng.choice(PHONES),
                "emails": rng.choice(EMAILS),
            }
        case "consent.changed":
            return kind, {
                "purpose": "marketing",
                "channel": rng.choice(["email", "sms"]),
                "status": rng.choice(["granted", "revoked"]),
                "legal_basis": "consent",
                "captured_via": "web preference centre",
            }
        case "survey.responded":
            return kind, {
                "survey_id": "S-1",
                "survey_name": "After-sales",
                "answers": [
                    {"question_id": "q", "question": "How was it?", "rating": rng.randint(1, 5)}
                ],
                "nps": rng.randint(0, 10),
            }
        case "complaint.opened":
            return kind, {
                "case_id": f"C-{n}",
                "category": "delivery",
                "severity": "low",
                "description": "late",
            }
        case "rewards.earned":
            return kind, {
                "programme": "Club",
                "member_number": "M-1",
                "points": rng.randint(1, 100),
                "reason": "purchase",
            }
        case _:
            return kind, {"mailbox": "service@example.com", "subject_line": "Your order"}


def _events(
    run: str, rate: float, seconds: float, customers: int, probe_every: int
) -> Iterator[tuple[Touchpoint, str | None]]:
    """(event, probe customer or None) in publishing order."""
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=30)
    for n in range(int(rate * seconds)):
        at = start + timedelta(seconds=n / rate)
        if n % probe_every == 0:
            probe = f"probe-{run}-{n}"
            payload = {"dispatch_instructions": f"probe {n}"}
            yield (
                touch("profile.updated", payload, at=at, message_id=f"{run}-{n}", customer=probe),
                probe,
            )
        else:
            kind, payload = _payloads(rng, n)
            customer = f"C-{run}-{rng.randrange(customers)}"
            yield touch(kind, payload, at=at, message_id=f"{run}-{n}", customer=customer), None


class ResolvedPublisher:
    """Publishes events as the identity stage would, each under its subject's customer id."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5
        )

    async def __aenter__(self) -> ResolvedPublisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def publish_many(self, events: list[Touchpoint]) -> None:
        sent = []
        for event in events:
            customer = event.subject.customer_id or event.subject.key()
            sent.append(
                await self._producer.send(
                    self.topic, encode_resolved(customer, event), key=customer.encode()
                )
            )
        await asyncio.gather(*sent)

    async def publish(self, event: Touchpoint) -> None:
        await self.publish_many([event])


class Probes:
    """Probe customers sent and not yet seen in the profile, and how long each took."""

    def __init__(self) -> None:
        self.pending: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.drained = asyncio.Event()
        self.drained.set()

    def sent(self, customer: str, at: float) -> None:
        self.pending[customer] = at
        self.drained.clear()

    async def watch(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        """Record when each pending probe customer first has facts committed."""
        while not stop.is_set():
            if self.pending:
                rows = await pool.fetch(
                    f"SELECT DISTINCT customer_id FROM {FACTS} WHERE customer_id = ANY($1::text[])",
                    list(self.pending),
                )
                now = time.perf_counter()
                for row in rows:
                    sent = self.pending.pop(row["customer_id"], None)
                    if sent is not None:
                        self.seen[row["customer_id"]] = now - sent
                if not self.pending:
                    self.drained.set()
            await asyncio.sleep(0.005)


async def _publish(
    publisher: Publisher | ResolvedPublisher,
    events: list[tuple[Touchpoint, str | None]],
    rate: float,
    probes: Probes,
) -> float:
    """Publish at ``rate`` events/s in 10 ms ticks, acknowledgements awaited concurrently."""
    per_tick = max(1, round(rate * TICK))
    sends = []
    t0 = time.perf_counter()
    for k, start in enumerate(range(0, len(events), per_tick)):
        delay = t0 + k * TICK - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = events[start : start + per_tick]
        now = time.perf_counter()
        for _, probe in chunk:
            if probe is not None:
                probes.sent(probe, now)
        sends.append(asyncio.create_task(publisher.publish_many([e for e, _ in chunk])))
    await asyncio.gather(*sends)
    return len(events) / (time.perf_counter() - t0)


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return (
        f"p50 {cut[49] * 1000:.0f} ms, p95 {cut[94] * 1000:.0f} ms, "
        f"p99 {cut[98] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


async def _read_latency(url: str, customers: list[str]) -> list[float]:
    token = uuid.uuid4().hex
    app = create_app(url, tokens={token: Caller("bench", Role.AGENT)})
    timings = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        ) as http,
    ):
        for customer in customers:
            t0 = time.perf_counter()
            response = await http.get(
                f"/customers/{customer}/profile",
                params={"reveal": "service", "reason": "benchmark"},
            )
            timings.append(time.perf_counter() - t0)
            response.raise_for_status()
    return timings


async def bench(
    bootstrap_servers: str,
    server_url: str,
    rate: float,
    seconds: float,
    customers: int,
    probe_every: int,
    profile_only: bool,
) -> None:
    run = uuid.uuid4().hex[:8]
    topics = {
        "touchpoints": f"bench.{run}.tp",
        "resolved": f"bench.{run}.resolved",
        "deadletter": f"bench.{run}.dlq",
    }
    await ensure_topics(bootstrap_servers, topics.values(), partitions=6)
    events = list(_events(run, rate, seconds, customers, probe_every))
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
    stop_stages, stop_watch = asyncio.Event(), asyncio.Event()
    probes = Probes()
    try:
        await bootstrap.create_tables(pool)
        stages = asyncio.create_task(
            bootstrap.run_stages(
                settings,
                ends,
                pool,
                stop_stages,
                ("identity", "timeline", "profile"),
                list(range(6)),
            )
        )
        watcher = asyncio.create_task(probes.watch(pool, stop_watch))
        publisher = (
            ResolvedPublisher(bootstrap_servers, topics["resolved"])
            if profile_only
            else Publisher(bootstrap_servers, topic=topics["touchpoints"], idempotence=False)
        )
        async with publisher:
            warm = touch(
                "call.logged",
                {"direction": "inbound", "duration_seconds": 1, "reason": "warm", "outcome": "ok"},
                at=datetime.now(UTC),
                message_id=f"{run}-warm",
                customer=f"warm-{run}",
            )
            probes.sent(f"warm-{run}", time.perf_counter())
            await publisher.publish(warm)
            await asyncio.wait_for(probes.drained.wait(), timeout=60)
            probes.seen.clear()
            print(
                f"publishing {len(events):,} events at {rate:,.0f}/s for {seconds:.0f} s "
                f"({len(events) // probe_every:,} probes)",
                flush=True,
            )
            achieved = await _publish(publisher, events, rate, probes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(probes.drained.wait(), timeout=60)
        stop_watch.set()
        await watcher
        stop_stages.set()
        await stages
        latencies = list(probes.seen.values())
        late = sum(1 for v in latencies if v > 1.0)
        print(f"published at {achieved:,.0f} events/s")
        print(
            f"event → visible in profile ({len(latencies):,} probes, "
            f"{len(probes.pending)} unseen): {_percentiles(latencies)}; over 1 s: {late}"
        )
        rows = await pool.fetch(
            f"SELECT customer_id, count(*) AS facts FROM {FACTS} WHERE customer_id LIKE $1 "
            "GROUP BY customer_id ORDER BY customer_id LIMIT 500",
            f"C-{run}-%",
        )
        reads = await _read_latency(url, [r["customer_id"] for r in rows])
        average = sum(r["facts"] for r in rows) / len(rows)
        print(
            f"GET /customers/{{id}}/profile ({len(reads)} reads, ~{average:.0f} facts each): "
            f"{_percentiles(reads)}"
        )
    finally:
        await pool.close()
        with contextlib.suppress(Exception):
            await drop_database(server_url, url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--probe-every", type=int, default=10)
    parser.add_argument(
        "--profile-only", action="store_true", help="publish resolved events; profile stage only"
    )
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap_servers, server_url):
        await bench(
            bootstrap_servers,
            server_url,
            args.rate,
            args.seconds,
            args.customers,
            args.probe_every,
            args.profile_only,
        )


if __name__ == "__main__":
    asyncio.run(main())
