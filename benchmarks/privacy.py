"""The cost of sealing personal fields, measured in one run (issue 14, target ≤ 15% slower).

    python -m benchmarks.privacy [--events 100000] [--subjects 10000] [--rounds 2] [--one-day]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL); creates a scratch database, then measures,
alternating clear and sealed ``--rounds`` times (the best round of each is reported):

- SDK publish throughput (``producers.Publisher``, acks=all), without and with a
  ``Sealer`` (data keys in the scratch database, created as subjects first appear): in
  batches (``publish_many``, bound by the process's CPU: the worst case for sealing), and
  one event at a time as a channel system sends them (``publish``, awaiting each
  acknowledgement; the first ``--one-by-one`` events, their keys already made);
- projection throughput of the timeline runner over ``touchlog.resolved`` records in
  clear and sealed (opened by the views' shared decoder, keys fetched per batch and
  cached as ``touchlog up`` does), each from offset 0 into an empty timeline.

Prints each figure and the ratios sealed / clear. Keys are per subject, retention class
and day: the generated events fall on ~120 days, so nearly every event needs a key of its
own (the worst case); ``--one-day`` puts them all on one day (live traffic: a subject's
events of the day share a key).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from benchmarks.support import drop_database, infrastructure, scratch_database
from consumers.process import tune_gc
from consumers.runner import RunnerConfig
from events import Touchpoint, encode
from events.codec import Codec
from events.fast_decode import SharedDecodes
from events.resolved import RESOLVED, resolved_value
from privacy.keys import MasterKey
from privacy.retention import Retention
from privacy.runtime import Keys, SealingConfig, create_tables, resolved_decoder
from privacy.sealing import Sealer
from producers import Publisher
from projections import db
from projections.db import SERVER_SETTINGS
from projections.timeline.postgres import TimelineView, count_rows
from tests.factories import random_events
from touchlog.bootstrap import projection_runner
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging

CHUNK = 10_000


class Timed:
    """Wall time and this process's CPU time of a phase: on a shared machine the CPU time
    is the steadier measure of what sealing costs the process."""

    wall = cpu = 0.0

    def __enter__(self) -> Timed:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


async def publish_seconds(
    bootstrap: str, topic: str, events: Sequence[Touchpoint], sealer: Sealer | None
) -> Timed:
    async with Publisher(bootstrap, topic=topic, idempotence=False, sealer=sealer) as sdk:
        with Timed() as timed:
            for i in range(0, len(events), CHUNK):
                await sdk.publish_many(events[i : i + CHUNK])
        return timed


async def publish_one_by_one(
    bootstrap: str, topic: str, events: Sequence[Touchpoint], sealer: Sealer | None
) -> Timed:
    """As a channel system sends as things happen: ``publish`` of one event, awaiting the
    broker's acknowledgement before the next."""
    async with Publisher(bootstrap, topic=topic, idempotence=False, sealer=sealer) as sdk:
        with Timed() as timed:
            for event in events:
                await sdk.publish(event)
        return timed


async def resolved_records(
    bootstrap: str, topic: str, events: Sequence[Touchpoint], sealer: Sealer | None
) -> None:
    """``events`` as the resolver forwards them: stamped with their customer; sealed as
    the SDK sealed them, or in clear."""
    if sealer is not None:
        await sealer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for i in range(0, len(events), CHUNK):
            chunk = events[i : i + CHUNK]
            values = (
                [v for _, v in await sealer.seal(chunk)]
                if sealer is not None
                else [encode(e) for e in chunk]
            )
            sent = []
            for event, value in zip(chunk, values, strict=True):
                customer = event.subject.customer_id or event.subject.key()
                record = resolved_value(customer, value)
                sent.append(await producer.send(topic, record, key=customer.encode()))
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def projection_seconds(
    bootstrap: str, pool: asyncpg.Pool, topic: str, codec: Codec[Any], n: int
) -> Timed:
    """The timeline runner from offset 0 of ``topic`` until every event is in the view."""
    await pool.execute("TRUNCATE timeline_v1")
    runner = projection_runner(
        RunnerConfig(
            bootstrap, topic, topic + ".dlq", "bench", idempotence=False, partitions=range(6)
        ),
        pool,
        TimelineView(),
        codec,
    )
    await runner.prepare()
    stop = asyncio.Event()
    with Timed() as elapsed:
        task = asyncio.create_task(runner.run(stop))
        while runner.applied < n:
            await asyncio.sleep(0.02)
            if task.done():
                await task
    stop.set()
    await task
    if (rows := await count_rows(pool)) != n:
        raise SystemExit(f"expected {n} timeline rows, found {rows}")
    if runner.dead_lettered:
        raise SystemExit(f"{runner.dead_lettered} records dead-lettered")
    return elapsed


async def bench(
    bootstrap: str,
    server_url: str,
    n: int,
    subjects: int,
    rounds: int,
    one_day: bool,
    one_by_one: int,
) -> None:
    run = uuid.uuid4().hex[:8]
    print(f"generating {n:,} events for {subjects:,} subjects ...", flush=True)
    events = random_events(n, subjects=subjects, seed=42)
    if one_day:
        day = events[0].occurred_at.replace(hour=0, minute=0, second=0, microsecond=0)
        events = [
            e.model_copy(update={"occurred_at": day + timedelta(milliseconds=i)})
            for i, e in enumerate(events)
        ]
    slots = {(e.subject.key(), e.type, e.occurred_at.date()) for e in events}
    print(f"at most {len(slots):,} data keys (subject, type, day)", flush=True)
    url = await scratch_database(server_url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, server_settings=SERVER_SETTINGS)
    try:
        async with pool.acquire() as conn:
            await create_tables(conn)
            await db.create_tables(conn, *TimelineView().schema)
        config = SealingConfig(MasterKey(os.urandom(32)), Retention(), 60.0, seal=True)
        publish: dict[str, list[Timed]] = {"clear": [], "sealed": []}
        single: dict[str, list[Timed]] = {"clear": [], "sealed": []}
        project: dict[str, list[Timed]] = {"clear": [], "sealed": []}
        for r in range(rounds):
            for mode in ("clear", "sealed"):
                # A producer process of its own each round: keys made or fetched afresh.
                sealer = Keys.on(config, pool).sealer if mode == "sealed" else None
                topic = f"bench.privacy.{run}.{mode}.{r}"
                await ensure_topics(bootstrap, [topic, topic + ".dlq"], partitions=6)
                publish[mode].append(await publish_seconds(bootstrap, topic, events, sealer))
                _round(r, f"{mode} publish", n, publish[mode][-1])
                single[mode].append(
                    await publish_one_by_one(bootstrap, topic, events[:one_by_one], sealer)
                )
                _round(r, f"{mode} publish one by one", one_by_one, single[mode][-1])
        tune_gc()  # as `touchlog runner` does at start
        for r in range(rounds):
            for mode in ("clear", "sealed"):
                keys = Keys.on(config, pool)
                topic = f"bench.privacy.{run}.resolved.{mode}.{r}"
                await ensure_topics(bootstrap, [topic, topic + ".dlq"], partitions=6)
                await resolved_records(
                    bootstrap, topic, events, keys.sealer if mode == "sealed" else None
                )
                codec: Codec[Any] = (
                    resolved_decoder(keys.opener) if mode == "sealed" else SharedDecodes(RESOLVED)
                )
                project[mode].append(await projection_seconds(bootstrap, pool, topic, codec, n))
                _round(r, f"{mode} projection", n, project[mode][-1])
    finally:
        await pool.close()
        await drop_database(server_url, url)

    # Round 1 of sealed publishing makes every key (each subject's first event of a
    # period); later rounds find them in the store (a producer that starts afresh).
    first, known = publish["sealed"][:1], publish["sealed"][1:] or publish["sealed"]
    print()
    print(f"events: {n:,} ({subjects:,} subjects, 6 partitions); best of {rounds} rounds")
    print(f"{'':34}{'events/s':>10}{'CPU µs/event':>14}{'ratio':>8}{'CPU ratio':>10}")
    clear = _best(publish["clear"])
    _line("SDK publish, clear", n, clear, clear)
    _line("SDK publish, sealed (keys made)", n, _best(first), clear)
    _line("SDK publish, sealed (keys known)", n, _best(known), clear)
    clear = _best(single["clear"])
    _line("SDK publish one by one, clear", one_by_one, clear, clear)
    _line("SDK publish one by one, sealed", one_by_one, _best(single["sealed"]), clear)
    clear = _best(project["clear"])
    _line("timeline projection, clear", n, clear, clear)
    _line("timeline projection, sealed", n, _best(project["sealed"]), clear)
    print("ratio: sealed throughput / clear throughput (1.00 = no cost; target ≥ 0.85)")


def _round(r: int, what: str, n: int, timed: Timed) -> None:
    print(f"  round {r + 1}: {what} {n / timed.wall:,.0f}/s", flush=True)


def _best(runs: Sequence[Timed]) -> Timed:
    return min(runs, key=lambda t: t.wall)


def _line(what: str, n: int, timed: Timed, clear: Timed) -> None:
    cpu_us = timed.cpu / n * 1e6
    print(
        f"{what:34}{n / timed.wall:>10,.0f}{cpu_us:>14.1f}"
        f"{clear.wall / timed.wall:>8.2f}{clear.cpu / timed.cpu:>10.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one-day", action="store_true", help="every event on one day")
    parser.add_argument(
        "--one-by-one", type=int, default=2_000, help="events published one at a time"
    )
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap, server_url):
        await bench(
            bootstrap,
            server_url,
            args.events,
            args.subjects,
            args.rounds,
            args.one_day,
            args.one_by_one,
        )


if __name__ == "__main__":
    asyncio.run(main())
