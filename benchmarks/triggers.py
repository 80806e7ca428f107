"""Trigger evaluation throughput and latency of the faust triggers app (issue 7, acceptance 5).

    python -m benchmarks.triggers [--customers 5000] [--partitions 6] [--rate 500] [--seconds 20]

Starts the embedded broker (or uses TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS), publishes the
demo histories of ``--customers`` people (~35 events each, every touchpoint type) to
the resolved topic, then measures, in one run:

- the pure engine (``TriggerEngine.apply``) over the same events, in this process,
  and the worker's whole step without faust (decode + apply + encode the state);
- throughput: ``touchlog triggers worker`` (wall clock, as deployed) in its own
  process, from its first committed offset until every event is committed; the
  start-up and group join before that are printed apart;
- latency: with the worker caught up, ``--rate`` low survey ratings per second for
  ``--seconds``, each firing 'unhappy-survey-call-back' at once; per trigger, its
  record timestamp on the triggers topic minus its event's on the resolved topic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.support import check_alive, spawn, terminate
from events import Touchpoint
from events.resolved import RESOLVED, encode_resolved
from producers.demo import demo_events
from projections.triggers import DEFAULT_RULES, CustomerState, TriggerEngine, encode_state
from tests.triggers_support import survey, touchpoint
from touchlog import embedded
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging

ROLES = ("resolved", "commands", "triggers", "suppressed", "deadletter")
SURVEY_RULE = "unhappy-survey-call-back"


@contextlib.contextmanager
def _broker() -> Iterator[str]:
    """The configured broker, else an embedded one for the run (no PostgreSQL needed)."""
    if servers := os.environ.get("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    with embedded.embedded_broker() as broker:
        yield broker.bootstrap_servers


def _stream(customers: int) -> list[tuple[str, Touchpoint, bytes]]:
    """(customer, event, resolved record value), oldest first. The subject's best key
    stands in for the resolved customer id (the demo gives most events a customer_id)."""
    return [
        (e.subject.key(), e, encode_resolved(e.subject.key(), e)) for e in demo_events(customers)
    ]


def engine_only(stream: list[tuple[str, Touchpoint, bytes]]) -> tuple[float, int]:
    """``TriggerEngine.apply`` over decoded events, as the worker calls it: (s, triggers)."""
    engine = TriggerEngine(DEFAULT_RULES)
    states: dict[str, CustomerState] = {}
    fired = 0
    t0 = time.perf_counter()
    for offset, (customer, event, _) in enumerate(stream):
        state = states.get(customer) or CustomerState()
        states[customer], decided = engine.apply(state, customer, event, datetime.now(UTC), offset)
        fired += len(decided)
    return time.perf_counter() - t0, fired


def worker_step(stream: list[tuple[str, Touchpoint, bytes]]) -> float:
    """What the worker does per record apart from faust and Kafka: decode, apply,
    encode the state for the table's changelog, encode each trigger."""
    engine = TriggerEngine(DEFAULT_RULES)
    states: dict[bytes, CustomerState] = {}
    saved: dict[bytes, bytes] = {}
    t0 = time.perf_counter()
    for offset, (_, _, value) in enumerate(stream):
        resolved = RESOLVED.decode(value)
        key = resolved.customer_id.encode()
        state, decided = engine.apply(
            states.get(key) or CustomerState(),
            resolved.customer_id,
            resolved.event,
            datetime.now(UTC),
            offset,
        )
        for trigger in decided:
            trigger.encode()
        states[key] = state
        saved[key] = encode_state(state)
    return time.perf_counter() - t0


async def publish(servers: str, topic: str, records: list[tuple[str, bytes]]) -> float:
    """acks=all; returns the seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        for i in range(0, len(records), 10_000):
            sent = [
                await producer.send(topic, value, key=key.encode())
                for key, value in records[i : i + 10_000]
            ]
            await asyncio.gather(*sent)
        return time.perf_counter() - t0
    finally:
        await producer.stop()


@dataclass
class Worker:
    """``touchlog triggers worker`` in its own process, on the run's topics."""

    servers: str
    names: dict[str, str]
    app_id: str
    partitions: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data_dir / "worker.log"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLOG_")} | {
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": self.servers,
            "TOUCHLOG_TOPIC_RESOLVED": self.names["resolved"],
            "TOUCHLOG_TOPIC_TRIGGER_COMMANDS": self.names["commands"],
            "TOUCHLOG_TOPIC_TRIGGERS": self.names["triggers"],
            "TOUCHLOG_TOPIC_TRIGGERS_SUPPRESSED": self.names["suppressed"],
            "TOUCHLOG_TOPIC_DEADLETTER": self.names["deadletter"],
            "TOUCHLOG_PARTITIONS": str(self.partitions),
            "TOUCHLOG_TRIGGERS_APP_ID": self.app_id,
            "TOUCHLOG_DATA_DIR": str(self.data_dir),
            "TOUCHLOG_LOG_LEVEL": "warning",  # one info line per trigger is not the workload
        }
        self.process = spawn(["touchlog.cli", "triggers", "worker"], env, self.log)

    def check_alive(self) -> None:
        check_alive(self.process, self.log, "the worker")

    def stop(self) -> None:
        terminate(self.process, timeout=30)


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]
) -> dict[int, int]:
    """Partition → the group's committed offset, the next record to read (0: none yet)."""
    offsets = await admin.list_consumer_group_offsets(group, partitions=tps)
    return {tp.partition: max(0, meta.offset) for tp, meta in offsets.items()}


async def committed(admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]) -> int:
    """Records of ``tps`` the group has committed (offsets start at 0)."""
    return sum((await committed_offsets(admin, group, tps)).values())


class TopicReader:
    """Reads a topic up to each partition's high watermark on every ``drain`` (the embedded
    broker's ListOffsets answers a batch's base offset + 1, not the end of the partition)."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, partitions: int) -> None:
        self.consumer = consumer
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]

    async def drain(self) -> list[tuple[bytes, int]]:
        """(value, record timestamp in ms) of every record not read before."""
        records: list[tuple[bytes, int]] = []
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            records += [(r.value, r.timestamp) for rs in batch.values() for r in rs if r.value]
            behind = [
                tp
                for tp in self.tps
                if (end := self.consumer.highwater(tp)) is None
                or await self.consumer.position(tp) < end
            ]
            if not behind:
                return records


@contextlib.asynccontextmanager
async def reading(
    servers: str, topic: str, partitions: int, starts: dict[int, int] | None = None
) -> AsyncIterator[TopicReader]:
    """A reader of ``topic`` from ``starts`` (partition → offset; else the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        reader = TopicReader(consumer, topic, partitions)
        consumer.assign(reader.tps)
        for tp in reader.tps:
            consumer.seek(tp, (starts or {}).get(tp.partition, 0))
        yield reader
    finally:
        await consumer.stop()


async def throughput(worker: Worker, admin: AIOKafkaAdminClient, n: int) -> tuple[float, float]:
    """(start-up and group join s, records/s once running), from committed offsets.

    Committed offsets, not triggers counted: most events fire nothing, and a commit
    means the record was evaluated, its state saved and its triggers sent. faust
    commits every ``broker_commit_interval`` (1 s) or 1000 records, so the rate is
    taken between the first and the last commit seen, over the records committed
    in between — neither end waits for a commit the other does not."""
    tps = [TopicPartition(worker.names["resolved"], p) for p in range(worker.partitions)]
    started = time.perf_counter()
    worker.start()
    while (first := await committed(admin, worker.app_id, tps)) == 0:
        worker.check_alive()
        await asyncio.sleep(0.1)
    first_at = last_report = time.perf_counter()
    print(f"  first commit after {first_at - started:.1f} s ({first:,} records)", flush=True)
    while (done := await committed(admin, worker.app_id, tps)) < n:
        worker.check_alive()
        if time.perf_counter() - last_report > 5:
            last_report = time.perf_counter()
            print(f"  ... {done:,} committed", flush=True)
        await asyncio.sleep(0.1)
    done_at = time.perf_counter()
    return first_at - started, (done - first) / (done_at - first_at)


@dataclass
class Latency:
    sent: int
    rate: float
    millis: list[float]  # sorted
    halves: tuple[float, float]  # p50 of the first and second half sent: growing = backlog


async def latency(
    worker: Worker, admin: AIOKafkaAdminClient, customers: list[str], rate: float, seconds: float
) -> Latency:
    names, partitions = worker.names, worker.partitions
    tps = [TopicPartition(names["resolved"], p) for p in range(partitions)]
    ends = await committed_offsets(admin, worker.app_id, tps)  # caught up: each one's end
    before = sum(ends.values())
    rng = random.Random(5)
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    events = []
    for i in range(int(rate * seconds)):
        customer = rng.choice(customers)
        at = now + timedelta(seconds=i / rate)
        event = touchpoint(
            "survey.responded", customer, at, survey(1, None), message_id=f"bench-{run}-{i}"
        )
        events.append((customer.encode(), encode_resolved(customer, event), event.message_id))

    producer = AIOKafkaProducer(bootstrap_servers=worker.servers, acks="all", linger_ms=0)
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        sent = []
        t0 = loop.time()
        for i, (key, value, _) in enumerate(events):
            if (delay := t0 + i / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            sent.append(await producer.send(names["resolved"], value, key=key))
        sending_s = loop.time() - t0
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    achieved = (len(events) - 1) / sending_s

    ids = {message_id for _, _, message_id in events}
    deadline = time.perf_counter() + 60
    while await committed(admin, worker.app_id, tps) < before + len(events):
        worker.check_alive()
        if time.perf_counter() > deadline:
            raise SystemExit("the worker did not catch up with the latency events in 60 s")
        await asyncio.sleep(0.2)
    async with reading(worker.servers, names["resolved"], partitions, ends) as source:
        published = {
            json.loads(value)["event"]["message_id"]: ts for value, ts in await source.drain()
        }
    async with reading(worker.servers, names["triggers"], partitions) as out:
        fired: dict[str, int] = {}
        while len(fired) < len(ids) and time.perf_counter() < deadline:
            for value, ts in await out.drain():
                trigger = json.loads(value)
                if trigger["rule"] == SURVEY_RULE and trigger["evidence"][0] in ids:
                    fired[trigger["evidence"][0]] = ts
            await asyncio.sleep(0.2)
    in_order = [float(fired[m] - published[m]) for _, _, m in events if m in fired]
    half = len(in_order) // 2
    halves = (_pct(sorted(in_order[:half]), 0.5), _pct(sorted(in_order[half:]), 0.5))
    return Latency(len(events), achieved, sorted(in_order), halves)


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q) - 1))]


async def bench(servers: str, customers: int, partitions: int, rate: float, seconds: float) -> None:
    run = uuid.uuid4().hex[:8]
    names = {role: f"bench.{run}.{role}" for role in ROLES}
    await ensure_topics(servers, names.values(), partitions=partitions)

    print(f"generating the demo histories of {customers:,} customers ...", flush=True)
    stream = _stream(customers)
    n = len(stream)
    people = sorted({customer for customer, _, _ in stream})
    print(f"  {n:,} events about {len(people):,} customer keys", flush=True)

    publish_s = await publish(servers, names["resolved"], [(c, v) for c, _, v in stream])
    print(f"  published in {publish_s:.1f} s", flush=True)
    engine_s, engine_fired = engine_only(stream)
    print(f"  engine alone: {n / engine_s:,.0f} events/s", flush=True)
    step_s = worker_step(stream)
    print(f"  worker step without faust: {n / step_s:,.0f} events/s", flush=True)
    del stream

    data_dir = Path(tempfile.mkdtemp(prefix="touchlog-bench-triggers-"))
    worker = Worker(servers, names, f"bench-triggers-{run}", partitions, data_dir)
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        print("starting `touchlog triggers worker` ...", flush=True)
        join_s, rate_running = await throughput(worker, admin, n)
        print(f"  {rate_running:,.0f} events/s", flush=True)
        print(f"latency: {rate:g} surveys/s for {seconds:g} s ...", flush=True)
        measured = await latency(worker, admin, people, rate, seconds)
        counts = {}
        for role in ("triggers", "suppressed", "deadletter"):
            async with reading(servers, names[role], partitions) as reader:
                counts[role] = len(await reader.drain())
    finally:
        await admin.close()
        worker.stop()
        shutil.rmtree(data_dir)

    ms = measured.millis
    print()
    print(
        f"events                        {n:>10,}  "
        f"({customers:,} demo customers, {partitions} partitions)"
    )
    print(f"publish (acks=all)            {n / publish_s:>10,.0f} events/s")
    print(
        f"engine alone (apply)          {n / engine_s:>10,.0f} events/s  "
        f"({engine_fired:,} triggers decided)"
    )
    print(f"worker step, no faust/Kafka   {n / step_s:>10,.0f} events/s  (decode+apply+encode)")
    print(f"triggers worker (faust)       {rate_running:>10,.0f} events/s  (first to last commit)")
    print(f"  start-up + group join       {join_s:>10.1f} s  (process start to first commit)")
    print(
        f"  output                      {counts['triggers'] - len(ms):>10,} emitted, "
        f"{counts['suppressed']:,} suppressed, {counts['deadletter']:,} dead-lettered"
    )
    print(
        f"latency (record timestamps)   p50 {_pct(ms, 0.5):.0f} ms, p95 {_pct(ms, 0.95):.0f} ms, "
        f"p99 {_pct(ms, 0.99):.0f} ms, max {ms[-1]:.0f} ms "
        f"({len(ms):,} of {measured.sent:,} triggers, at {measured.rate:,.0f} events/s)"
    )
    print(
        f"  p50 of the 1st / 2nd half    {measured.halves[0]:.0f} ms / {measured.halves[1]:.0f} ms"
    )
    print("commits every 1 s or 1000 records: the rate is over the commits seen, not per record.")
    print(f"command: python -m benchmarks.triggers {' '.join(sys.argv[1:])}".rstrip())


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000, help="~35 events each")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=500, help="latency events per second")
    parser.add_argument("--seconds", type=float, default=20, help="of the latency phase")
    args = parser.parse_args()
    configure_logging("console", "warning")
    with _broker() as servers:
        await bench(servers, args.customers, args.partitions, args.rate, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
