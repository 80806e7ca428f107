"""The whole pipeline, every stage running: `touchlog up` under load (issue 17).

    python -m benchmarks.pipeline [--events 100000] [--people 20000] [--peer-events 20000]
                                  [--output docs/BENCHMARKS.md]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL) with a scratch database, then in one run:

1. the limits: raw aiokafka produce (acks=all) and raw consume + JSON decode of the
   run's events;
2. ``touchlog up`` (no demo) as users start it — the identity, timeline, profile and
   trigger-store stages in one process, the resolver's helper process and the faust
   triggers worker beside it — on the run's own topics and database; after a warm-up,
   publishes the events with the SDK and notes when each stage has applied all of
   them (its stored offsets, or the faust app's committed ones, reach the topic's end);
3. the limits: ``COPY`` of the same events' timeline rows, and the naive faust peer
   (one ``INSERT`` per event, ``benchmarks.pipeline_peer``);
4. each process's CPU and RSS (psutil) over the measured phase.

It prints the figures and writes them, with their ratios, to ``--output``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks import pipeline_limits as limits
from benchmarks.pipeline_report import Figures, write_report
from benchmarks.pipeline_usage import ProcessUsage, pipeline_roles
from benchmarks.pipeline_workload import mixed_events
from benchmarks.support import (
    check_alive,
    drop_database,
    infrastructure,
    scratch_database,
    spawn,
    terminate,
)
from events import Touchpoint
from events.codec import encode
from producers import Publisher
from tests.faults.pipeline_processes import behind, high_watermarks
from touchlog.embedded import free_port
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging

PARTITIONS = 6
TOPICS = {
    "TOUCHPOINTS": "touchpoints",
    "RESOLVED": "resolved",
    "DEADLETTER": "deadletter",
    "TRIGGERS": "triggers",
    "TRIGGERS_SUPPRESSED": "triggers.suppressed",
    "TRIGGER_COMMANDS": "triggers.commands",
}
VIEWS = {"identity": "identity_v1", "timeline": "timeline_v1", "profile": "profile_facts_v1"}


@dataclass
class Up:
    """``touchlog up`` in its own process, on the run's topics, groups and database."""

    servers: str
    database_url: str
    run: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    topics: dict[str, str] = field(default_factory=dict)
    log_level: str = "warning"  # a line per trigger is not the workload

    def __post_init__(self) -> None:
        self.topics = {role: f"bench.{self.run}.{name}" for role, name in TOPICS.items()}

    @property
    def app_id(self) -> str:
        return f"bench-triggers-{self.run}"

    @property
    def log(self) -> Path:
        return self.data_dir / "up.log"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLOG_")} | {
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": self.servers,
            "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",  # the embedded broker rejects it
            "DATABASE_URL": self.database_url,
            "TOUCHLOG_DATA_DIR": str(self.data_dir),
            "TOUCHLOG_PARTITIONS": str(PARTITIONS),
            "TOUCHLOG_CONSUMER_GROUP": f"bench-{self.run}",
            "TOUCHLOG_TRIGGERS_APP_ID": self.app_id,
            "TOUCHLOG_API_PORT": str(free_port()),
            "TOUCHLOG_GATEWAY_PORT": str(free_port()),
            "TOUCHLOG_LOG_LEVEL": self.log_level,
            "TOUCHLOG_LOG_FORMAT": "json",
        }
        env |= {f"TOUCHLOG_TOPIC_{role}": name for role, name in self.topics.items()}
        self.process = spawn(["touchlog.cli", "up"], env, self.log)

    def check_alive(self) -> None:
        check_alive(self.process, self.log, "touchlog up")

    def stop(self) -> None:
        terminate(self.process, timeout=60)


class Positions:
    """Where each stage is: stored offsets (the views) and the faust app's committed
    offsets, read by a consumer of its group that never joins it (DESIGN.md)."""

    def __init__(self, up: Up, pool: asyncpg.Pool) -> None:
        self.up = up
        self.pool = pool
        self._faust = AIOKafkaConsumer(
            bootstrap_servers=up.servers, group_id=up.app_id, enable_auto_commit=False
        )

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Positions]:
        await self._faust.start()
        try:
            yield self
        finally:
            await self._faust.stop()

    async def stored(self, stage: str) -> dict[int, int]:
        topic = self.up.topics["TOUCHPOINTS" if stage == "identity" else "RESOLVED"]
        try:
            rows = await self.pool.fetch(
                "SELECT partition, next_offset FROM consumer_offsets "
                "WHERE consumer = $1 AND topic = $2",
                VIEWS[stage],
                topic,
            )
        except asyncpg.UndefinedTableError:
            return {}
        return {r["partition"]: r["next_offset"] for r in rows}

    async def triggers(self) -> dict[int, int]:
        topic = self.up.topics["RESOLVED"]
        try:
            return {
                p: (await self._faust.committed(TopicPartition(topic, p))) or 0
                for p in range(PARTITIONS)
            }
        except Exception:  # noqa: BLE001  # a rebalance in progress: not there yet
            return {}

    async def position(self, stage: str) -> dict[int, int]:
        return await (self.triggers() if stage == "triggers" else self.stored(stage))


STAGES = ("identity", "timeline", "profile", "triggers")


async def wait_stages(
    up: Up, positions: Positions, touchpoints_end: dict[int, int], deadline_s: float
) -> dict[str, float]:
    """perf_counter time at which each stage had applied every record up to the ends
    (the resolved topic's end is read once identity is done)."""
    done: dict[str, float] = {}
    resolved_end: dict[int, int] | None = None
    deadline = time.perf_counter() + deadline_s
    last_report = time.perf_counter()
    while len(done) < len(STAGES):
        up.check_alive()
        lags = {}
        for stage in STAGES:
            ends = touchpoints_end if stage == "identity" else resolved_end
            if stage in done or ends is None:
                continue
            lags[stage] = lag = behind(await positions.position(stage), ends)
            if lag == 0:
                done[stage] = time.perf_counter()
                if stage == "identity":
                    resolved_end = await high_watermarks(up.servers, up.topics["RESOLVED"])
        now = time.perf_counter()
        if now > deadline:
            tail = up.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"stages not done in {deadline_s:.0f} s: behind by {lags}\n{tail}")
        if now - last_report > 5:
            last_report = now
            print(f"  ... behind: {lags}", flush=True)
        await asyncio.sleep(0.1)
    return done


async def publish(servers: str, topic: str, events: Sequence[Touchpoint]) -> float:
    """With the SDK (validates, acks=all), in chunks; seconds taken."""
    t0 = time.perf_counter()
    async with Publisher(servers, topic=topic, idempotence=False) as publisher:
        for i in range(0, len(events), 5000):
            await publisher.publish_many(events[i : i + 5000])
    return time.perf_counter() - t0


async def run_pipeline(
    up: Up, pool: asyncpg.Pool, events: Sequence[Touchpoint], warmup: Sequence[Touchpoint]
) -> tuple[float, dict[str, float], ProcessUsage]:
    """(publish s, stage → completion s after the publish began, usage)."""
    await ensure_topics(up.servers, up.topics.values(), partitions=PARTITIONS)
    up.start()
    database = urlsplit(up.database_url).path[1:]
    usage = ProcessUsage(lambda: pipeline_roles(up.process.pid if up.process else None, database))
    async with Positions(up, pool).open() as positions:
        print(f"warm-up: {len(warmup):,} events, every stage ...", flush=True)
        t0 = time.perf_counter()
        await publish(up.servers, up.topics["TOUCHPOINTS"], warmup)
        ends = await high_watermarks(up.servers, up.topics["TOUCHPOINTS"])
        await wait_stages(up, positions, ends, 180)
        print(f"  warm in {time.perf_counter() - t0:.1f} s", flush=True)

        print(f"publishing {len(events):,} events with the SDK ...", flush=True)
        usage.start()
        sampler = asyncio.create_task(_sample(usage))
        t0 = time.perf_counter()
        stages = asyncio.create_task(_after_publish(up, positions, len(events), len(warmup)))
        publish_s = await publish(up.servers, up.topics["TOUCHPOINTS"], events)
        print(f"  published in {publish_s:.1f} s", flush=True)
        done = await stages
        sampler.cancel()
        usage.sample()
    return publish_s, {stage: at - t0 for stage, at in done.items()}, usage


async def _after_publish(up: Up, positions: Positions, n: int, before: int) -> dict[str, float]:
    """Once every event is in the log (high watermarks, not ListOffsets), the stages."""
    while True:
        ends = await high_watermarks(up.servers, up.topics["TOUCHPOINTS"])
        if sum(ends.values()) >= n + before:
            break
        await asyncio.sleep(0.2)
    return await wait_stages(up, positions, ends, 600 + n / 100)


async def _sample(usage: ProcessUsage) -> None:
    while True:
        await asyncio.sleep(1.0)
        usage.sample()


async def bench(servers: str, server_url: str, args: argparse.Namespace) -> Figures:
    run = uuid.uuid4().hex[:8]
    n = args.events
    print(f"generating {n:,} events about {args.people:,} people ...", flush=True)
    events = mixed_events(n, args.people, seed=17, prefix=f"{run}-")
    warmup = mixed_events(args.warmup, args.people, seed=18, prefix=f"{run}-w-")
    records = [(e.subject.key().encode(), encode(e)) for e in events]
    size = sum(len(v) for _, v in records) / len(records)
    figures = Figures(events=n, people=args.people, event_bytes=size, command=_command())

    limit_topic = f"bench.{run}.limit"
    await ensure_topics(servers, [limit_topic], partitions=PARTITIONS)
    print("limits: raw produce, raw consume + JSON decode ...", flush=True)
    figures.limits["produce"] = await limits.produce(servers, limit_topic, records)
    figures.limits["consume"] = await limits.consume(servers, limit_topic, PARTITIONS, n)
    print(f"  {figures.limits['produce']:,.0f} / {figures.limits['consume']:,.0f} /s", flush=True)
    del records

    url = await scratch_database(server_url)
    data_dir = Path(tempfile.mkdtemp(prefix="touchlog-bench-pipeline-"))
    up = Up(servers, url, run, data_dir)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        try:
            publish_s, done, usage = await run_pipeline(up, pool, events, warmup)
        finally:
            up.stop()
        figures.publish = n / publish_s
        figures.stages = {stage: n / seconds for stage, seconds in done.items()}
        figures.usage = usage.usage()
        figures.usage_s = usage.elapsed

        print("limits: COPY, the naive faust peer ...", flush=True)
        figures.limits["copy"] = await limits.copy(pool, events)
        peer_n = min(args.peer_events, n)
        figures.peer_events = peer_n
        figures.peer = await limits.naive_peer(
            servers, limit_topic, url, f"bench-peer-{run}", peer_n, data_dir / "peer.log"
        )
    finally:
        await pool.close()
        await drop_database(server_url, url)
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def _command() -> str:
    return f"python -m benchmarks.pipeline {' '.join(sys.argv[1:])}".rstrip()


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="measured events")
    parser.add_argument("--people", type=int, default=20_000, help="persons they are about")
    parser.add_argument("--warmup", type=int, default=2_000, help="events before measuring")
    parser.add_argument(
        "--peer-events", type=int, default=20_000, help="events the naive peer stores"
    )
    parser.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"))
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (servers, server_url):
        figures = await bench(servers, server_url, args)
    print(figures.text())
    write_report(args.output, figures)
    print(f"written to {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
