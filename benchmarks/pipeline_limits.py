"""The limits and the peer ``benchmarks.pipeline`` measures touchlog against, in its run:
raw aiokafka produce (acks=all), raw consume + JSON decode, PostgreSQL ``COPY`` of the
timeline rows, and a naive faust agent doing one ``INSERT`` per event."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks import pipeline_peer
from benchmarks.support import copy_timeline_seconds
from events import Touchpoint
from projections.timeline.postgres import TimelineView


async def produce(servers: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Raw aiokafka produce, acks=all, pipelined: records/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        for i in range(0, len(records), 10_000):
            sent = [
                await producer.send(topic, value, key=key) for key, value in records[i : i + 10_000]
            ]
            await asyncio.gather(*sent)
        return len(records) / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def consume(servers: str, topic: str, partitions: int, n: int) -> float:
    """Raw aiokafka consume of ``n`` records from the beginning, each decoded with
    ``json.loads``: records/s."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        read = 0
        t0 = time.perf_counter()
        while read < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    json.loads(record.value or b"")
                read += len(records)
        return read / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


async def copy(pool: asyncpg.Pool, events: Sequence[Touchpoint]) -> float:
    """``COPY`` of the events' timeline rows into a copy of the timeline table (its
    primary key and index included): rows/s."""
    rows = len(TimelineView().changes(events))
    return rows / await copy_timeline_seconds(pool, events, "copy_limit")


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "benchmarks.pipeline_peer"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class PeerResult:
    rate: float  # events/s
    cpu: float  # cores busy on average
    rss: int  # bytes, at the end


async def naive_peer(
    servers: str, topic: str, database_url: str, app_id: str, n: int, log: Path
) -> PeerResult:
    """The naive faust peer (``benchmarks.pipeline_peer``) over the first ``n`` records of
    ``topic``: events/s from its first row stored to its ``n``-th (the group join before
    is not counted), its CPU and RSS meanwhile."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(pipeline_peer.SCHEMA)
    env = os.environ | {
        "PEER_BOOTSTRAP": servers,
        "PEER_TOPIC": topic,
        "PEER_DATABASE_URL": database_url,
        "PEER_APP_ID": app_id,
    }
    process = _start(env, log)
    try:
        watched = psutil.Process(process.pid)
        first: tuple[float, int, float] | None = None
        deadline = time.perf_counter() + 120 + n / 200
        while True:
            count = await conn.fetchval(f"SELECT count(*) FROM {pipeline_peer.TABLE}")
            now = time.perf_counter()
            cpu = sum(watched.cpu_times()[:2])
            if first is None and count > 0:
                first = (now, count, cpu)
            if count >= n and first is not None:
                elapsed = now - first[0]
                rss = watched.memory_info().rss
                return PeerResult((count - first[1]) / elapsed, (cpu - first[2]) / elapsed, rss)
            if process.poll() is not None:
                raise SystemExit(f"the naive peer exited: see {log}")
            if now > deadline:
                raise SystemExit(f"the naive peer stored {count} of {n} events: see {log}")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
