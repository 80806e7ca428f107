"""Memory over a long run: every worker's RSS while ``touchlog up`` takes a steady rate.

    python -m benchmarks.soak [--rate 2000] [--minutes 10] [--output docs/BENCHMARKS.md]

Issue 17's target: every worker's RSS flat (± 10%) over a 10-minute run at 2,000
events/s. ``touchlog up`` (no demo) runs as ``benchmarks.pipeline`` starts it, every stage
and the faust worker included; after a warm-up minute at the same rate, the SDK publishes
``--rate`` events/s of the pipeline's mix (new message ids, the current time) for
``--minutes``, and each process's RSS and each stage's lag are sampled every 10 s. A
worker is flat when its RSS stays within ± 10% of its value at the end of the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil

from benchmarks.pipeline import PARTITIONS, STAGES, Positions, Up, wait_stages
from benchmarks.pipeline_report import mb as _mb
from benchmarks.pipeline_report import write_section
from benchmarks.pipeline_usage import pipeline_roles
from benchmarks.pipeline_workload import mixed_events
from benchmarks.profile import Probes, _percentiles
from benchmarks.support import drop_database, infrastructure, scratch_database
from events import Touchpoint, from_mapping
from producers import Publisher
from tests.faults.pipeline_processes import behind, high_watermarks
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging

BEGIN = "<!-- benchmarks.soak: generated from here -->"
END = "<!-- benchmarks.soak: generated up to here -->"
WORKERS = (
    "touchlog up: stages, API, gateway",
    "identity helper process",
    "faust triggers worker",
)
SAMPLE_S = 10.0


@dataclass
class Soak:
    rate: float
    minutes: float
    command: str
    published: int = 0
    seconds: float = 0.0
    samples: list[tuple[float, dict[str, int], dict[str, int]]] = field(default_factory=list)
    """(seconds since the measured phase began, role → RSS bytes, stage → lag)."""
    latency_rate: float = 0.0
    visible: list[float] = field(default_factory=list)
    """Seconds from publishing a probe to its facts being in the profile."""

    def rss(self, role: str) -> list[int]:
        return [rss[role] for _, rss, _ in self.samples if role in rss]

    def markdown(self) -> str:
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "## Memory over a long run (`benchmarks.soak`)",
            "",
            f"Generated {at}, by",
            "",
            f"    {self.command}",
            "",
            f"`touchlog up` (no demo), every stage and the faust worker running; after a "
            f"warm-up minute, {self.published:,} events published at "
            f"{self.published / self.seconds:,.0f} events/s (asked: {self.rate:,.0f}) for "
            f"{self.seconds / 60:.1f} minutes. RSS sampled every {SAMPLE_S:.0f} s; a worker "
            "is flat when every sample stays within ± 10% of the first.",
            "",
            "| process | RSS first | RSS last | RSS min | RSS max | drift | flat (± 10%) |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for role in WORKERS:
            rss = self.rss(role)
            if not rss:
                continue
            first = rss[0]
            drift = max(abs(max(rss) - first), abs(first - min(rss))) / first
            lines.append(
                f"| {role} | {_mb(first)} | {_mb(rss[-1])} | {_mb(min(rss))} | {_mb(max(rss))} "
                f"| {drift:+.0%} | {'yes' if drift <= 0.10 else '**no**'} |"
            )
        if self.visible:
            p99 = sorted(self.visible)[max(0, int(len(self.visible) * 0.99) - 1)]
            lines += [
                "",
                f"Event visible in the profile, {len(self.visible):,} probes at "
                f"{self.latency_rate:,.0f} events/s, every stage running (before the long run): "
                f"{_percentiles(self.visible)} — target p99 ≤ 250 ms: "
                f"{'met' if p99 <= 0.25 else '**not met**'}.",
            ]
        lags = [lag for _, _, lag in self.samples]
        if lags:
            worst = {stage: max(lag.get(stage, 0) for lag in lags) for stage in STAGES}
            last = lags[-1]
            lines += [
                "",
                "Lag in events (largest seen / at the end): "
                + ", ".join(f"{s} {worst[s]:,} / {last.get(s, 0):,}" for s in STAGES)
                + ".",
            ]
        return "\n".join(lines)


def fresh(event: Touchpoint, run: str, n: int) -> Touchpoint:
    """The pattern event as a new touchpoint: its own id, happening now."""
    now = datetime.now(UTC)
    return event.model_copy(
        update={"message_id": f"{run}-soak-{n:09d}", "occurred_at": now, "sent_at": None}
    )


def probe(run: str, n: int) -> Touchpoint:
    """A profile update of a customer of its own: visible once its facts are stored."""
    return from_mapping(
        {
            "type": "profile.updated",
            "message_id": f"{run}-probe-{n:09d}",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": {"system": "bench", "business_unit": "retail", "channel": "web"},
            "subject": {"customer_id": f"{run}-probe-{n}"},
            "payload": {"preferred_channel": "email"},
        }
    )


async def steady(
    up: Up,
    patterns: list[Touchpoint],
    rate: float,
    seconds: float,
    first: int,
    run: str,
    probes: Probes | None = None,
) -> int:
    """Publish ``rate`` events/s for ``seconds``; the number published. With ``probes``,
    one event in 100 is a probe, timed from just before it is sent."""
    tick = 0.1
    per_tick = max(1, round(rate * tick))
    n = first
    start = time.perf_counter()
    async with Publisher(up.servers, topic=up.topics["TOUCHPOINTS"], idempotence=False) as sdk:
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) + per_tick - (n - first)
            if due > 0:
                batch = [fresh(patterns[(n + i) % len(patterns)], run, n + i) for i in range(due)]
                if probes is not None:
                    for i in range(due):
                        if (n + i) % 100 == 0:
                            batch[i] = probe(run, n + i)
                            probes.sent(batch[i].subject.customer_id or "", time.perf_counter())
                await sdk.publish_many(batch)
                n += due
            await asyncio.sleep(max(0.0, start + (n - first) / rate - time.perf_counter()))
    return n - first


async def sample(up: Up, positions: Positions, database: str, soak: Soak, t0: float) -> None:
    while True:
        await asyncio.sleep(SAMPLE_S)
        up.check_alive()
        rss: dict[str, int] = {}
        for pid, role in pipeline_roles(up.process.pid if up.process else None, database).items():
            try:
                rss[role] = rss.get(role, 0) + psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
        ends = await high_watermarks(up.servers, up.topics["TOUCHPOINTS"])
        resolved = await high_watermarks(up.servers, up.topics["RESOLVED"])
        lag = {
            stage: behind(
                await positions.position(stage), ends if stage == "identity" else resolved
            )
            for stage in STAGES
        }
        soak.samples.append((time.perf_counter() - t0, rss, lag))
        print(
            f"  {time.perf_counter() - t0:5.0f} s  "
            + "  ".join(f"{role.split(':')[0]} {_mb(rss.get(role, 0))}" for role in WORKERS)
            + f"  lag {lag}",
            flush=True,
        )


async def bench(servers: str, server_url: str, args: argparse.Namespace) -> Soak:
    run = uuid.uuid4().hex[:8]
    soak = Soak(args.rate, args.minutes, f"python -m benchmarks.soak {' '.join(sys.argv[1:])}")
    patterns = mixed_events(args.patterns, args.people, seed=19, prefix=f"{run}-")
    url = await scratch_database(server_url)
    data_dir = Path(tempfile.mkdtemp(prefix="touchlog-bench-soak-"))
    up = Up(servers, url, run, data_dir)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await ensure_topics(up.servers, up.topics.values(), partitions=PARTITIONS)
        up.start()
        async with Positions(up, pool).open() as positions:
            print(f"warm-up: one minute at {args.rate:,.0f} events/s ...", flush=True)
            n = await steady(up, patterns, args.rate, 60, 0, run)
            await wait_stages(
                up, positions, await high_watermarks(servers, up.topics["TOUCHPOINTS"]), 600
            )
            print(f"latency: {args.latency_seconds:.0f} s at {args.latency_rate:,.0f} events/s")
            probes = Probes()
            stop = asyncio.Event()
            watcher = asyncio.create_task(probes.watch(pool, stop))
            n += await steady(up, patterns, args.latency_rate, args.latency_seconds, n, run, probes)
            await asyncio.wait_for(probes.drained.wait(), 120)
            stop.set()
            await watcher
            soak.latency_rate = args.latency_rate
            soak.visible = list(probes.seen.values())
            print(f"  visible in the profile: {_percentiles(soak.visible)}", flush=True)
            print(f"measuring: {args.minutes} minutes at {args.rate:,.0f} events/s", flush=True)
            t0 = time.perf_counter()
            database = urlsplit(url).path[1:]
            sampler = asyncio.create_task(sample(up, positions, database, soak, t0))
            await asyncio.sleep(0)  # the first sample is taken at once below
            soak.published = await steady(up, patterns, args.rate, args.minutes * 60, n, run)
            soak.seconds = time.perf_counter() - t0
            sampler.cancel()
    finally:
        up.stop()
        await pool.close()
        await drop_database(server_url, url)
        shutil.rmtree(data_dir, ignore_errors=True)
    return soak


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, default=2000, help="events per second")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--patterns", type=int, default=20_000, help="distinct events cycled")
    parser.add_argument("--latency-rate", type=float, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=60)
    parser.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"))
    args = parser.parse_args()
    configure_logging("console", "warning")
    with infrastructure() as (servers, server_url):
        soak = await bench(servers, server_url, args)
    text = soak.markdown()
    print(text)
    write_section(args.output, BEGIN, END, text)
    print(f"written to {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
