"""Rebuilds of the versioned views from offset 0, and the switch that makes one live.

A rebuild runs the view's runners on a new version (``projections/versions.py``) over
every partition, from offset 0, while the live version keeps serving and consuming. It
can be stopped at any moment and run again: it resumes from the new version's offsets.

The switch keeps the new version's runners running, then, in one transaction, locks the
view's live row (the live runners' next batches wait on it), waits until the new version
has applied at least everything the live one had, and re-points the views. Readers never
see a version that lacks an event they saw before. The live runners then find the view
switched and go on from the new version's offsets once the switch has let go of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer

from consumers.checkpoints import stored_offsets
from consumers.ports import CheckpointStore
from consumers.runner import ProjectionRunner
from consumers.status import Stage, stage_status
from consumers.view import View
from projections import db, versions
from touchlog import bootstrap
from touchlog.settings import Settings

log = structlog.get_logger()

SWITCH_WAIT_S = 30.0
"""How long a switch holds the live runners back while the new version catches up to
them; after it, the switch is rolled back (nothing changed) and tried again."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a version has got: events applied, the end of the log, per second."""

    view: str
    version: int
    applied: int
    end: int
    rate: float

    @property
    def lag(self) -> int:
        return max(self.end - self.applied, 0)


Report = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    view: str
    version: int
    resumed: bool
    switched_from: int | None
    events: int
    seconds: float


def topics(settings: Settings, view: str) -> tuple[str, ...]:
    """The topics ``view`` is built from."""
    if view == "triggers":
        return (settings.topic_triggers, settings.topic_triggers_suppressed)
    return (settings.topic_resolved,)


def _runners(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    version: int,
    partitions: dict[str, list[int]],
) -> list[bootstrap.Runner]:
    if view == "triggers":
        subscribers = bootstrap.webhook_subscribers(settings)
        runners = bootstrap.trigger_store_runners(
            settings, endpoints, pool, subscribers, version=version
        )
    else:
        runners = [bootstrap.resolved_view_runner(settings, endpoints, pool, view, version=version)]
    # One store for the runners of a view's topics: one holder of the version's lock.
    store = runners[0].store
    return [_on_partitions(r, partitions[r.config.topic], store) for r in runners]


def _on_partitions(
    runner: bootstrap.Runner, partitions: list[int], store: CheckpointStore[db.Connection]
) -> bootstrap.Runner:
    """The runner, reading ``partitions`` directly (a rebuild joins no consumer group)."""
    config = replace(runner.config, partitions=partitions)
    return ProjectionRunner(config, runner.view, store, runner.reader, runner.writer, runner.codec)


async def rebuild(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    *,
    switch: bool = False,
    report: Report | None = None,
) -> Rebuilt:
    """Build a new version of ``view`` (or resume the one begun) up to the end of the
    log; with ``switch``, make it live."""
    spec = _view(view)
    async with pool.acquire() as conn:
        version, resumed = await versions.begin_rebuild(conn, view, spec.schema, spec.shared_schema)
    log.info("rebuild_started", view=view, version=version, resumed=resumed)
    return await _run_version(settings, endpoints, pool, view, version, resumed, switch, report)


async def switch(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    *,
    report: Report | None = None,
) -> Rebuilt:
    """Make the rebuilt version of ``view`` live, catching it up first."""
    pending = [v for v in await versions.versions(pool, view) if v.state in ("building", "ready")]
    if not pending:
        raise versions.VersionError(
            f"{view} has no rebuilt version to switch to: "
            f"run `touchlog projections rebuild {view}` first"
        )
    version = pending[-1].version
    return await _run_version(settings, endpoints, pool, view, version, True, True, report)


async def _run_version(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    version: int,
    resumed: bool,
    switch_after: bool,
    report: Report | None,
) -> Rebuilt:
    started = time.monotonic()
    names = topics(settings, view)
    partitions = await _partitions(endpoints, names)
    runners = _runners(settings, endpoints, pool, view, version, partitions)
    watch = _Watch(pool, view, version, runners[0].name, names, report)
    first = await watch.applied()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop), name=f"{view}-v{version}") for r in runners]
    previous = None
    try:
        ends = await _log_ends(pool, endpoints, view, version, runners[0].name, names)
        watch.end = sum(ends.values())
        await watch.until(tasks, ends)
        await versions.mark_ready(pool, view, version)
        if switch_after:
            previous = await _switch(pool, view, version, watch, tasks)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if (exc := task.exception()) is not None:
            raise exc
    events = sum((await watch.applied()).values()) - sum(first.values())
    return Rebuilt(view, version, resumed, previous, events, time.monotonic() - started)


async def _switch(
    pool: asyncpg.Pool,
    view: str,
    version: int,
    watch: _Watch,
    tasks: Sequence[asyncio.Task[None]],
) -> int:
    """The atomic switch (see the module's docstring); retried until it happens."""
    spec = _view(view)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            live = await versions.lock_live(conn, view)
            target = await watch.applied_by(live)
            try:
                async with asyncio.timeout(SWITCH_WAIT_S):
                    await watch.until(tasks, target)
            except TimeoutError:
                log.warning("switch_postponed", view=view, version=version)
                continue  # the transaction rolls back: the live runners go on meanwhile
            previous = await versions.make_live(conn, view, version, spec.schema)
        log.info("view_switched", view=view, version=version, previous=previous)
        return previous


def _reached(applied: dict[tuple[str, int], int], target: dict[tuple[str, int], int]) -> bool:
    return all(applied.get(key, 0) >= offset for key, offset in target.items())


class _Watch:
    """The new version's stored offsets, polled while its runners work."""

    POLL_S = 0.2

    def __init__(
        self,
        pool: asyncpg.Pool,
        view: str,
        version: int,
        name: str,
        topics: Sequence[str],
        report: Report | None,
    ) -> None:
        self.pool, self.view, self.version, self.name = pool, view, version, name
        self.topics, self.report = topics, report
        self._start = time.monotonic()
        self._first: int | None = None
        self.end = 0
        """The end of the log the version is catching up to (events, every partition)."""

    async def applied_by(self, version: int) -> dict[tuple[str, int], int]:
        found: dict[tuple[str, int], int] = {}
        for topic in self.topics:
            offsets = await stored_offsets(self.pool, versions.consumer(self.name, version), topic)
            found |= {(topic, p): o for p, o in offsets.items()}
        return found

    async def applied(self) -> dict[tuple[str, int], int]:
        return await self.applied_by(self.version)

    async def until(
        self,
        tasks: Sequence[asyncio.Task[None]],
        target: dict[tuple[str, int], int],
    ) -> None:
        """Poll until every partition has been applied up to ``target``; a runner that
        failed fails this."""
        while True:
            applied = await self.applied()
            self._progress(applied)
            failed = [t for t in tasks if t.done()]
            if failed:
                await failed[0]  # raises its error
                raise RuntimeError(f"{self.view} v{self.version}'s runner stopped early")
            if _reached(applied, target):
                return
            await asyncio.sleep(self.POLL_S)

    def _progress(self, applied: dict[tuple[str, int], int]) -> None:
        total = sum(applied.values())
        if self._first is None:
            self._first = total
        elapsed = max(time.monotonic() - self._start, 1e-6)
        if self.report is not None:
            rate = (total - self._first) / elapsed
            self.report(Progress(self.view, self.version, total, self.end, rate))


async def _log_ends(
    pool: asyncpg.Pool,
    endpoints: bootstrap.Endpoints,
    view: str,
    version: int,
    name: str,
    topics: Sequence[str],
) -> dict[tuple[str, int], int]:
    """The end of each partition now (a fetch's high watermark)."""
    consumer = versions.consumer(name, version)
    found = await stage_status(
        pool,
        endpoints.bootstrap_servers,
        [Stage(view, consumer, topic) for topic in topics],
        security=endpoints.kafka_security,
    )
    ends = {}
    for status in found:
        if status.log_end is None:
            raise versions.VersionError(
                f"the end of {status.topic}[{status.partition}] is unknown: is the broker up?"
            )
        ends[(status.topic, status.partition)] = status.log_end
    return ends


async def _partitions(
    endpoints: bootstrap.Endpoints, topics: Sequence[str]
) -> dict[str, list[int]]:
    probe = AIOKafkaConsumer(
        bootstrap_servers=endpoints.bootstrap_servers, **dict(endpoints.kafka_security)
    )
    await probe.start()
    try:
        await probe.topics()
        found = {t: sorted(probe.partitions_for_topic(t) or ()) for t in topics}
    finally:
        await probe.stop()
    if missing := [t for t, ps in found.items() if not ps]:
        raise versions.VersionError(f"no such topic yet: {', '.join(missing)}")
    return found


def _view(view: str) -> View[db.Connection]:
    try:
        return bootstrap.VERSIONED[view]
    except KeyError:
        known = ", ".join(bootstrap.VERSIONED)
        raise versions.VersionError(f"no view named {view!r}; views: {known}") from None
