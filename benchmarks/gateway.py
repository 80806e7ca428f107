"""HTTP gateway ingest rate, with the broker acknowledging every event (acks=all).

    python -m benchmarks.gateway [--batches 200] [--requests 20000]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS) and uses
DATABASE_URL (or an embedded PostgreSQL) with a scratch database; runs `touchlog gateway`
as its own process (one uvicorn worker) and drives it from this one with keep-alive
HTTP/1.1 connections:

- batch ingest: ``POST /v1/events/batch``, 1,000 events per request → events/s;
- single events: ``POST /v1/events``, one event per request → requests/s;
- Segment batches: ``POST /v1/batch``, 100 track messages per request → events/s.

Every request must answer 200 with every event accepted, i.e. acknowledged by the
broker; at the end every message id must be in the gateway's dedup ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from benchmarks.support import drop_database, infrastructure, scratch_database
from events import Channel, encode
from producers.gateway import SCHEMA
from producers.gateway import sources as gateway_sources
from projections.db import create_tables
from tests.factories import random_events
from tests.waiting import eventually
from touchlog import embedded
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging

HOST = "127.0.0.1"


class Connection:
    """A bare keep-alive HTTP/1.1 client: the load generator must cost less than the server."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        auth = base64.b64encode(f"{key}:".encode()).decode()
        self.head = (
            f"Host: {HOST}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        request = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(request.encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(
    port: int, key: str, path: str, bodies: list[bytes], connections: int, ok: bytes
) -> tuple[float, int]:
    """Send every body, ``connections`` at a time, as a client does: a 503 / 429 is sent
    again (the gateway never writes an event twice). Seconds taken, and the retries."""
    queue: Iterator[bytes] = iter(bodies)
    failures: list[str] = []
    retries = 0

    async def worker() -> None:
        nonlocal retries
        conn = Connection(port, key)
        try:
            for body in queue:
                status, answer = await conn.post(path, body)
                while status in (429, 503):
                    retries += 1
                    status, answer = await conn.post(path, body)
                if status != 200 or ok not in answer:
                    failures.append(f"{status} {answer[:300]!r}")
                    return
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{path}: {len(failures)} failed request(s), e.g. {failures[0]}")
    return elapsed, retries


def _segment_batches(count: int, size: int, run: str) -> list[bytes]:
    bodies = []
    for b in range(count):
        batch = [
            {
                "type": "track",
                "messageId": f"{run}-seg-{b}-{i}",
                "userId": f"U-{(b * size + i) % 20_000}",
                "event": "Video Played",
                "properties": {"video_id": f"v-{i}", "seconds": i, "quality": "hd"},
                "timestamp": "2026-03-01T10:00:00.000+00:00",
                "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
            }
            for i in range(size)
        ]
        bodies.append(json.dumps({"batch": batch, "sentAt": "2026-03-01T10:00:01Z"}).encode())
    return bodies


@contextlib.contextmanager
def _gateway_process(env: dict[str, str], port: int) -> Iterator[int]:
    process = subprocess.Popen(  # our own CLI
        [sys.executable, "-m", "touchlog.cli", "gateway"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        embedded.wait_for_port(HOST, port, timeout=30)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def bench(bootstrap: str, server_url: str, args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:6]
    topic = f"bench.gateway.{run}"
    await ensure_topics(bootstrap, [topic], partitions=6)
    url = await scratch_database(server_url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await create_tables(conn, SCHEMA)
        key, _ = await gateway_sources.add(pool, "test-system", "retail", Channel.WEB)

        total = args.batches * 1000 + args.requests
        print(f"generating {total:,} events ...", flush=True)
        events = [encode(e) for e in random_events(total, subjects=20_000, seed=7, prefix=run)]
        size = sum(map(len, events[:1000])) / 1000
        batch_bodies = [
            b'{"events":[' + b",".join(events[i : i + 1000]) + b"]}"
            for i in range(0, args.batches * 1000, 1000)
        ]
        single_bodies = events[args.batches * 1000 :]
        segment_bodies = _segment_batches(args.segment_batches, 100, run)

        port = embedded.free_port()
        env = {
            **os.environ,
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
            "DATABASE_URL": url,
            "TOUCHLOG_TOPIC_TOUCHPOINTS": topic,
            "TOUCHLOG_GATEWAY_PORT": str(port),
            "TOUCHLOG_LOG_LEVEL": "warning",
            "TOUCHLOG_DATA_DIR": tempfile.mkdtemp(prefix="touchlog-bench-gw-"),
        }
        with _gateway_process(env, port) as pid:
            warm = _segment_batches(5, 100, run + "-warm")
            await _drive(port, key, "/v1/batch", warm, 2, b'"success":true')
            retries = {}

            cpu = _cpu_seconds(pid)
            batch_s, retries["batch"] = await _drive(
                port, key, "/v1/events/batch", batch_bodies, args.connections, b'"success":true'
            )
            batch_cpu = _cpu_seconds(pid) - cpu

            cpu = _cpu_seconds(pid)
            single_s, retries["single"] = await _drive(
                port, key, "/v1/events", single_bodies, args.single_connections, b'"accepted"'
            )
            single_cpu = _cpu_seconds(pid) - cpu

            cpu = _cpu_seconds(pid)
            segment_s, retries["segment"] = await _drive(
                port, key, "/v1/batch", segment_bodies, args.connections, b'"success":true'
            )
            segment_cpu = _cpu_seconds(pid) - cpu

            expected = total + args.segment_batches * 100 + len(warm) * 100
            recorded = await eventually(
                lambda: pool.fetchval("SELECT count(*) FROM gateway_accepted"),
                lambda n: n >= expected,
                timeout=30,
                what=f"{expected} acknowledged ids in the dedup ledger",
            )
    finally:
        await pool.close()
        await drop_database(server_url, url)

    batch_events = args.batches * 1000
    segment_events = args.segment_batches * 100
    print()
    print(f"native event ~{size:.0f} bytes JSON; gateway: 1 process, broker acks=all, 6 partitions")
    print(
        f"batch ingest    {batch_events / batch_s:>10,.0f} events/s    "
        f"({batch_events:,} events in 1,000-event batches, {args.connections} connections, "
        f"{batch_s:.1f} s, gateway CPU {batch_cpu / batch_s:.0%})"
    )
    print(
        f"single events   {args.requests / single_s:>10,.0f} requests/s  "
        f"({args.requests:,} requests, {args.single_connections} connections, {single_s:.1f} s, "
        f"gateway CPU {single_cpu / single_s:.0%})"
    )
    print(
        f"Segment batches {segment_events / segment_s:>10,.0f} events/s    "
        f"({segment_events:,} track messages in 100-message batches, {segment_s:.1f} s, "
        f"gateway CPU {segment_cpu / segment_s:.0%})"
    )
    print(f"acknowledged ids in the dedup ledger: {recorded:,} of {expected:,}")
    print(f"requests answered 503/429 and sent again: {retries}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="1,000-event native batches")
    parser.add_argument("--requests", type=int, default=20_000, help="single-event requests")
    parser.add_argument("--segment-batches", type=int, default=500, help="100-message batches")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--single-connections", type=int, default=64)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (bootstrap, server_url):
        await bench(bootstrap, server_url, args)


if __name__ == "__main__":
    import uvloop  # the load generator must cost less than the server

    uvloop.run(main())
