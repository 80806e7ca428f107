"""Issue 11, "Correct in the mode users run it": a ground-truth workload of 20,000 events,
published with confluent-kafka, runs through faults of the pipeline as users run it —
``touchlog runner --stage identity|timeline|profile`` and ``touchlog triggers worker`` as
separate processes in their consumer groups, then ``touchlog up`` — and after each fault
every event is in the timeline (and the profile) exactly once, under the customer a clean
run of the same log gives, and every trigger is on its topic exactly once.

The faults, in order, each on a fresh slice of the workload so that it lands mid-stream:

1-5. SIGKILL of the resolver (at a random point of its way through the slice), then of the
     timeline runner and the faust worker a random instant (< 0.3 s) later, each restarted
     at once; the first slice is in the log before the stages first start;
6.   the broker paused (SIGSTOP) for 15 s;
7.   PostgreSQL (a server this test owns) shut down for 20 s and started again;
8.   ``touchlog up`` (on this broker and database) stopped mid-stream and started again.

A household's events share a partition (keyed by account), so resolution does not
depend on how partitions interleave: the clean reference is a ``--partitions`` replay of
the whole log at the end, into its own database. Kill points are drawn from a seeded
random generator (``TOUCHLOG_FAULT_SEED``) and printed with the table of counts;
``TOUCHLOG_FAULT_EVENTS`` makes the workload smaller while working on the suite.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import asyncpg
import pytest
import yaml

from tests.faults.ground_truth import (
    PROFILE_CUSTOMERS,
    SURVEY_RULES,
    TIMELINE_SUBJECTS,
    Planned,
    Reference,
    Snapshot,
    count,
    coverage,
    expected_triggers,
    message_ids_in,
    profile_customers,
    publish,
    report,
    stamped_customers,
    timeline_subjects,
    triggers_in,
    workload,
    wrong_in_timeline,
)
from tests.faults.pipeline_processes import (
    PrivatePostgres,
    StageProcess,
    behind,
    group_committed,
    high_watermarks,
    stored_offsets,
    wait_for_database,
)
from tests.integration.conftest import master_key, new_database, server_url  # noqa: F401
from tests.integration.kafka_support import read_topic
from tests.integration.pipeline_support import (
    endpoints,
    opened_records,
    pipeline,
    pipeline_settings,
)
from tests.integration.test_crash_recovery import GRAPH
from tests.waiting import eventually
from touchlog import embedded
from touchlog.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration

TOTAL = int(os.environ.get("TOUCHLOG_FAULT_EVENTS", "20000"))
SEED = int(os.environ.get("TOUCHLOG_FAULT_SEED", "11"))
KILL_ROUNDS = 5
BROKER_PAUSE_S = 15.0
DATABASE_OUTAGE_S = 20.0
SETTLE_S = 150.0  # a fault's aftermath: restarts, group rebalances, retries, catching up
KILLED = ("identity", "timeline", "triggers-worker")


@pytest.fixture
def fault_broker(tmp_path: Path) -> Iterator[embedded.EmbeddedBroker]:
    """A broker of this test's own: it is paused, and its memory goes with it."""
    broker = embedded.start_broker(log_file=tmp_path / "broker.log")
    yield broker
    broker.resume()  # a failed test may leave it stopped
    broker.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as server:
        yield server


class FaultedPipeline:
    """The stages as separate processes on one broker and one database, and the test's view
    of where each stands."""

    STAGES: ClassVar[dict[str, list[str]]] = {
        "identity": ["runner", "--stage", "identity"],
        "timeline": ["runner", "--stage", "timeline"],
        "profile": ["runner", "--stage", "profile"],
        "triggers-worker": ["triggers", "worker"],
    }

    def __init__(
        self,
        broker: embedded.EmbeddedBroker,
        database_url: str,
        tmp: Path,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        unique = uuid.uuid4().hex[:8]
        self.say = say  # progress, as it happens (a hung run still shows how far it got)
        self.broker = broker
        self.bootstrap = broker.bootstrap_servers
        self.database_url = database_url
        names = ("touchpoints", "resolved", "deadletter", "triggers", "suppressed", "commands")
        self.topics = {name: f"faults.{unique}.{name}" for name in names}
        self.app_id = f"faults-{unique}-faust"  # not "<group>-triggers": the trigger store's
        rules = tmp / "trigger-rules.yaml"
        rules.write_text(yaml.safe_dump(SURVEY_RULES))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TOUCHLOG_") and k != "DATABASE_URL"
        } | {
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
            "DATABASE_URL": database_url,
            "TOUCHLOG_TOPIC_TOUCHPOINTS": self.topics["touchpoints"],
            "TOUCHLOG_TOPIC_RESOLVED": self.topics["resolved"],
            "TOUCHLOG_TOPIC_DEADLETTER": self.topics["deadletter"],
            "TOUCHLOG_TOPIC_TRIGGERS": self.topics["triggers"],
            "TOUCHLOG_TOPIC_TRIGGERS_SUPPRESSED": self.topics["suppressed"],
            "TOUCHLOG_TOPIC_TRIGGER_COMMANDS": self.topics["commands"],
            "TOUCHLOG_CONSUMER_GROUP": f"faults-{unique}",
            "TOUCHLOG_TRIGGERS_APP_ID": self.app_id,
            "TOUCHLOG_TRIGGER_RULES": str(rules),
            "TOUCHLOG_DATA_DIR": str(tmp / "data"),
            # Many commit points per slice, for a kill to land between.
            "TOUCHLOG_BATCH_MAX_RECORDS": "250",
            "TOUCHLOG_IDENTITY_BATCH_MAX_RECORDS": "250",
            "TOUCHLOG_LOG_LEVEL": "info",
        }
        self.processes = {
            name: StageProcess(name, args, env, tmp / f"{name}.log")
            for name, args in self.STAGES.items()
        }
        # faust's own log lines (assignment, recovery) only come at debug
        self.processes["triggers-worker"].env["TOUCHLOG_LOG_LEVEL"] = "debug"
        up_env = {
            "TOUCHLOG_API_PORT": str(embedded.free_port()),
            "TOUCHLOG_GATEWAY_PORT": str(embedded.free_port()),
            "TOUCHLOG_LOG_LEVEL": "debug",
        }
        self.up = StageProcess("up", ["up"], env | up_env, tmp / "up.log")
        self.expected_running: set[str] = set()
        self.ends: dict[int, int] = {}
        self.sent: list[Planned] = []
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.pool: asyncpg.Pool | None = None

    def note(self, line: str) -> None:
        self.notes.append(line)
        self.say(line)

    def fail(self, line: str) -> None:
        self.failures.append(line)
        self.say(f"FAILURE: {line}")

    # --- processes -----------------------------------------------------------------------

    def start(self, *names: str) -> None:
        for name in names:
            self.process(name).start()
            self.expected_running.add(name)

    def process(self, name: str) -> StageProcess:
        return self.up if name == "up" else self.processes[name]

    def kill(self, name: str) -> None:
        self.process(name).kill()
        self.process(name).start()

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        self.expected_running.discard(name)
        code = self.process(name).stop(sig)
        if code != 0:
            self.fail(f"{name} exited with {code} when asked to stop ({sig.name})")

    def revive(self) -> None:
        """A stage that died by itself is a failure; restart it so the suite goes on."""
        for name in sorted(self.expected_running):
            code = self.process(name).exit_code()
            if code is not None:
                self.fail(f"{name} exited by itself with code {code}; restarted")
                self.process(name).start()

    def tails(self) -> str:
        return "\n".join(p.tail() for p in [*self.processes.values(), self.up] if p.starts)

    # --- positions -----------------------------------------------------------------------

    async def connect(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=0, max_size=2)

    async def stored(self, consumer: str, topic: str) -> dict[int, int] | None:
        assert self.pool is not None
        return await stored_offsets(self.pool, consumer, self.topics[topic])

    async def applied(self, name: str) -> int | None:
        """How far a stage has come through its input (records), None if unknown now."""
        if name == "identity":
            position = await self.stored("identity_v1", "touchpoints")
        elif name == "timeline":
            position = await self.stored("timeline_v1", "resolved")
        else:
            position = await group_committed(self.bootstrap, self.app_id, self.topics["resolved"])
        return None if position is None else sum(position.values())

    async def lag(self) -> dict[str, int]:
        """Records each stage has still to apply (its whole input while its position is
        unknown)."""
        lag = {"identity": behind(await self.stored("identity_v1", "touchpoints"), self.ends)}
        resolved = await high_watermarks(self.bootstrap, self.topics["resolved"])
        commands = await high_watermarks(self.bootstrap, self.topics["commands"])
        lag["timeline"] = behind(await self.stored("timeline_v1", "resolved"), resolved)
        lag["profile"] = behind(await self.stored("profile_facts_v1", "resolved"), resolved)
        for topic, ends in (("resolved", resolved), ("commands", commands)):
            committed = await group_committed(self.bootstrap, self.app_id, self.topics[topic])
            lag[f"triggers-worker ({topic})"] = behind(committed, ends)
        return lag

    async def settle(self, what: str) -> bool:
        """Wait until every stage has applied everything published; False at the deadline."""
        deadline = time.monotonic() + SETTLE_S
        lag: dict[str, int] = {}
        while time.monotonic() < deadline:
            self.revive()
            lag = await self.lag()
            if not any(lag.values()):
                return True
            await asyncio.sleep(0.5)
        self.fail(f"{what}: not settled within {SETTLE_S}s; still to apply: {lag}")
        return False

    async def wait_applied(self, name: str, target: float, what: str) -> int:
        """Poll until stage ``name`` has applied ``target`` records; its position then."""
        reached = await eventually(
            lambda: self.applied(name),
            lambda n: n is not None and n >= target,
            timeout=SETTLE_S,
            interval=0.01,
            what=f"{what}: {name} past {target:.0f} records",
        )
        assert reached is not None
        return reached

    # --- publishing and reading back -----------------------------------------------------

    async def publish(self, events: Sequence[Planned]) -> None:
        ends = await asyncio.to_thread(publish, self.bootstrap, self.topics["touchpoints"], events)
        self.ends |= {p: max(o, self.ends.get(p, 0)) for p, o in ends.items()}
        self.sent += events

    async def snapshot(self, fault: str, settled: bool) -> Snapshot:
        assert self.pool is not None
        dead = await read_topic(self.bootstrap, self.topics["deadletter"])
        return Snapshot(
            fault=fault,
            sent=[e.message_id for e in self.sent],
            in_log=await message_ids_in(self.bootstrap, self.topics["touchpoints"]),
            timeline=timeline_subjects(await self.pool.fetch(TIMELINE_SUBJECTS)),
            profile=profile_customers(await self.pool.fetch(PROFILE_CUSTOMERS)),
            resolved=await stamped_customers(self.bootstrap, self.topics["resolved"]),
            triggers=await triggers_in(self.bootstrap, self.topics["triggers"]),
            dead_letters=len(dead) + await self.pool.fetchval("SELECT count(*) FROM dead_letters"),
            settled=settled,
        )


# --- the faults ---------------------------------------------------------------------------


async def sigkill_round(pipe: FaultedPipeline, rng: random.Random, n: int, part: list) -> None:
    """SIGKILL the resolver at a random point of its way through ``part``, and the timeline
    runner and the faust worker a random instant later (they trail it: mid-stream too);
    each restarted at once. Together, so that their group rejoins overlap.

    The first round publishes its part before the stages start, as ``touchlog up --demo``
    does: their first assignment then meets a log that is not empty."""
    fraction = rng.uniform(0.1, 0.6)
    delays = {"timeline": rng.uniform(0, 0.3), "triggers-worker": rng.uniform(0, 0.3)}
    if n == 1:
        start = dict.fromkeys(KILLED, 0)
        await pipe.publish(part)
        pipe.start(*pipe.STAGES)
    else:
        start = {name: await pipe.applied(name) or 0 for name in KILLED}
        await pipe.publish(part)
    at = await pipe.wait_applied("identity", start["identity"] + fraction * len(part), f"round {n}")
    pipe.kill("identity")
    moments = [f"identity at {at - start['identity']}/{len(part)}"]
    for name, delay in sorted(delays.items(), key=lambda item: item[1]):
        await asyncio.sleep(delay)  # the kill moment itself, drawn above
        position = await pipe.applied(name)
        pipe.kill(name)
        moments.append(f"{name} +{delay:.2f} s at {(position or 0) - start[name]}")
    pipe.note(f"round {n}: SIGKILL " + ", ".join(moments))


async def broker_pause(pipe: FaultedPipeline, rng: random.Random, part: list) -> None:
    fraction = rng.uniform(0.1, 0.6)
    start = await pipe.applied("identity") or 0
    await pipe.publish(part)
    at = await pipe.wait_applied("identity", start + fraction * len(part), "broker pause")
    pipe.broker.pause()
    try:
        await asyncio.sleep(BROKER_PAUSE_S)  # the fault itself
    finally:
        pipe.broker.resume()
    pipe.note(f"broker paused {BROKER_PAUSE_S:g} s with the resolver at {at - start}/{len(part)}")


async def database_outage(
    pipe: FaultedPipeline, server: PrivatePostgres, rng: random.Random, part: list
) -> None:
    fraction = rng.uniform(0.1, 0.6)
    start = await pipe.applied("identity") or 0
    await pipe.publish(part)
    at = await pipe.wait_applied("identity", start + fraction * len(part), "database outage")
    server.stop()
    try:
        await asyncio.sleep(DATABASE_OUTAGE_S)  # the fault itself
    finally:
        server.start()
    await wait_for_database(server.url)
    pipe.note(
        f"PostgreSQL down {DATABASE_OUTAGE_S:g} s with the resolver at {at - start}/{len(part)}"
    )


async def up_restart(pipe: FaultedPipeline, rng: random.Random, part: list) -> None:
    """From separate stages to ``touchlog up`` on the same broker, database, topics and
    groups; ``up`` stopped (Ctrl-C) mid-stream and started again."""
    for name in pipe.STAGES:
        pipe.stop(name)
    pipe.start("up")
    await _up_serving(pipe)
    fraction = rng.uniform(0.1, 0.6)
    start = await pipe.applied("identity") or 0
    await pipe.publish(part)
    at = await pipe.wait_applied("identity", start + fraction * len(part), "touchlog up restart")
    pipe.stop("up", signal.SIGINT)
    pipe.start("up")
    pipe.note(f"touchlog up stopped with the resolver at {at - start}/{len(part)}")


async def _up_serving(pipe: FaultedPipeline) -> None:
    async def banner() -> bool:
        pipe.revive()
        return "touchlog is up" in pipe.up.latest_output()

    await eventually(banner, bool, timeout=60, what="`touchlog up` printing its banner")


# --- the clean run ------------------------------------------------------------------------


async def clean_run(
    bootstrap: str, touchpoints: str, ends: dict[int, int], database_url: str
) -> tuple[Reference, list[list[tuple]]]:
    """The same log replayed by ``--partitions`` stages with no fault, into its own
    database and resolved topic."""
    topics = {
        "touchpoints": touchpoints,
        "resolved": f"{touchpoints}.clean-resolved",
        "deadletter": f"{touchpoints}.clean-deadletter",
    }
    await ensure_topics(bootstrap, [topics["resolved"], topics["deadletter"]], partitions=6)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:

        async def lag() -> int:
            resolved = await high_watermarks(bootstrap, topics["resolved"])
            return (
                behind(await stored_offsets(pool, "identity_v1", touchpoints), ends)
                + behind(await stored_offsets(pool, "timeline_v1", topics["resolved"]), resolved)
                + behind(
                    await stored_offsets(pool, "profile_facts_v1", topics["resolved"]), resolved
                )
            )

        async with pipeline(pipeline_settings(topics), endpoints(bootstrap, database_url), pool):
            await eventually(lag, lambda n: n == 0, timeout=180, what="the clean run's end")
        timeline = timeline_subjects(await pool.fetch(TIMELINE_SUBJECTS))
        graph = [[tuple(r) for r in await pool.fetch(q)] for q in GRAPH]
        reference = Reference(
            customer={m: subjects[0] for m, subjects in timeline.items()},
            profile=profile_customers(await pool.fetch(PROFILE_CUSTOMERS)),
            triggers=expected_triggers(
                await opened_records(pool, await read_topic(bootstrap, topics["resolved"]))
            ),
        )
        assert all(len(s) == 1 for s in timeline.values()), "the clean run has duplicates"
        assert not await pool.fetchval("SELECT count(*) FROM dead_letters")
    finally:
        await pool.close()
    return reference, graph


# --- the test -------------------------------------------------------------------------------


def _slices(events: list[Planned], parts: int) -> list[list[Planned]]:
    size = -(-len(events) // parts)
    return [events[i : i + size] for i in range(0, len(events), size)]


async def test_every_event_once_under_its_clean_customer_through_every_fault(
    fault_broker: embedded.EmbeddedBroker,
    private_postgres: PrivatePostgres,
    new_database: Callable[[], Awaitable[str]],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    events = workload(TOTAL, seed=SEED)
    parts = _slices(events, KILL_ROUNDS + 3)

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"  {line}", flush=True)

    pipe = FaultedPipeline(fault_broker, private_postgres.url, tmp_path, say)
    await ensure_topics(pipe.bootstrap, pipe.topics.values(), partitions=6)
    await pipe.connect()
    snapshots: list[Snapshot] = []
    try:
        faults: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (f"SIGKILL x3, round {n}", lambda n=n: sigkill_round(pipe, rng, n, parts[n - 1]))
            for n in range(1, KILL_ROUNDS + 1)
        ]
        faults += [
            ("broker paused 15 s", lambda: broker_pause(pipe, rng, parts[KILL_ROUNDS])),
            (
                "PostgreSQL down 20 s",
                lambda: database_outage(pipe, private_postgres, rng, parts[KILL_ROUNDS + 1]),
            ),
            ("touchlog up restarted", lambda: up_restart(pipe, rng, parts[KILL_ROUNDS + 2])),
        ]
        for name, fault in faults:
            try:
                await fault()
                settled = await pipe.settle(name)
            except AssertionError as exc:  # a wait ran out: say which, keep the counts
                pipe.fail(f"{name}: {exc}")
                settled = False
            read = time.monotonic()
            snapshots.append(await pipe.snapshot(name, settled))
            pipe.note(
                f"{name}: done at {time.monotonic() - began:.0f} s "
                f"(counting took {time.monotonic() - read:.1f} s)"
            )
            if not settled:
                break
        graph = [[tuple(r) for r in await pipe.pool.fetch(q)] for q in GRAPH]
    finally:
        for name in sorted(pipe.expected_running):
            pipe.stop(name, signal.SIGINT if name == "up" else signal.SIGTERM)
        await pipe.pool.close()

    reference, clean_graph = await clean_run(
        pipe.bootstrap, pipe.topics["touchpoints"], pipe.ends, await new_database()
    )
    counts = [count(s, reference) for s in snapshots]
    seen: set[str] = set()
    for snapshot in snapshots:  # a few of the events each fault newly got wrong
        wrong = wrong_in_timeline(snapshot, reference)
        fresh = [m for m in wrong if m not in seen][:2]
        pipe.notes += [f"{snapshot.fault}: e.g. {m}: {wrong[m]}" for m in fresh]
        seen |= wrong.keys()
    graph_diff = [len(set(a) ^ set(b)) for a, b in zip(graph, clean_graph, strict=True)]
    pipe.note(
        f"seed {SEED}; {len(events)} events (subjects by {coverage(events)}), "
        f"{sum(e.low_survey for e in events)} low surveys, "
        f"{len(clean_graph[2])} merges and {len(clean_graph[0])} customers in the clean run; "
        f"identity graph rows differing from it (customers, links, merges): {graph_diff}; "
        f"{time.monotonic() - began:.0f} s in all"
    )
    table = report(counts, pipe.notes + [f"FAILURE: {f}" for f in pipe.failures])
    with capsys.disabled():
        print(f"\nground truth through faults:\n{table}")

    low_surveys = sum(e.low_survey for e in pipe.sent)
    assert len(reference.triggers) == low_surveys, f"a clean run's triggers?\n{table}"
    assert len(clean_graph[2]) > len(pipe.sent) // 200, f"too few merges to test\n{table}"
    failed = pipe.failures or [c.fault for c in counts if not c.clean] or any(graph_diff)
    assert len(counts) == len(faults), f"{table}\n\n{pipe.tails()}"
    assert not failed, f"{table}\n\n{pipe.tails()}"
