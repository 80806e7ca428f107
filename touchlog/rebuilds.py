"""Rebuilds of the versioned views from offset 0, and the switch that makes one live.

A rebuild runs the view's runners on a new version (``projections/versions.py``) over
every partition, from offset 0, while the live version keeps serving and consuming. It
can be stopped at any moment and run again: it resumes from the new version's offsets.

The switch keeps the new version's runners running, then, in one transaction, locks the
view's live row (the live runners' next batches wait on it), waits until the new version
has applied at least everything the live one had, and re-points the views. Readers never
see a version that lacks an event they saw before. The live runners then find the view
switched and go on from the new version's offsets once the switch has let go of it.

Identity's versions publish to topics of their own (``versions.resolved_topic``); each
version of a view of resolved reads one of them. Identity goes live only together with a
version of every such view read from its topic, in one switch.

Every view but identity can be rebuilt by several processes, each on a share of the
partitions (``touchlog/rebuild_workers.py``): this one, and worker processes it starts.
It holds the version's lock for all of them, and watches them as it watches its runners.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumers.checkpoints import stored_offsets
from consumers.ports import CheckpointStore
from consumers.runner import ProjectionRunner
from consumers.status import Stage, stage_status
from consumers.versioned import VersionedCheckpoints
from projections import db, versions
from projections.identity import comparison
from touchlog import bootstrap, rebuild_workers
from touchlog.kafka_admin import ensure_topics
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
    together: tuple[tuple[str, int], ...] = ()
    """The views switched with it (identity's): each (view, version)."""


def topics(settings: Settings, view: str, identity_version: int | None = None) -> tuple[str, ...]:
    """The topics ``view`` is built from (a view of ``touchlog.resolved``: the topic of
    ``identity_version``)."""
    if view == "triggers":
        return (settings.topic_triggers, settings.topic_triggers_suppressed)
    if view == "identity":
        return (settings.topic_touchpoints,)
    return (versions.resolved_topic(settings.topic_resolved, identity_version),)


def _runners(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    run: _Target,
    partitions: dict[str, list[int]],
    kafka: AIOKafkaProducer | None,
) -> list[bootstrap.Runner]:
    view, version = run.view, run.version
    if view == "triggers":
        subscribers = bootstrap.webhook_subscribers(settings)
        runners = bootstrap.trigger_store_runners(
            settings, endpoints, pool, subscribers, version=version
        )
    elif view == "identity":
        assert kafka is not None  # noqa: S101  (opened for identity)
        runners = [bootstrap.resolver_runner(settings, endpoints, pool, kafka, version=version)]
    else:
        runners = [
            bootstrap.resolved_view_runner(
                settings, endpoints, pool, view, version=version, identity_version=run.identity
            )
        ]
    # One store for the runners of a view's topics: one holder of the version's lock.
    store = runners[0].store
    return [_on_partitions(r, partitions[r.config.topic], store) for r in runners]


def share_runners(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    version: int,
    identity: int,
    partitions: dict[str, list[int]],
) -> list[bootstrap.Runner]:
    """The runners of a share of a rebuild by several processes (in this one or in a
    worker process): ``view`` 's on the ``partitions`` of the share, with a store that
    takes no lock (the rebuild holds it)."""
    target = _Target(view, version, True, identity)
    # A topic with fewer partitions than there are shares has none in some.
    every = {topic: partitions.get(topic, []) for topic in topics(settings, view, identity)}
    built = _runners(settings, endpoints, pool, target, every, None)
    built = [r for r in built if r.config.partitions]
    held = built[0].store
    assert isinstance(held, VersionedCheckpoints)  # noqa: S101  (every rebuilt view's is)
    store = VersionedCheckpoints(
        pool,
        held.view,
        held.dsn,
        version=version,
        resolved=held.resolved,
        lock_held_by_rebuild=True,
    )
    return [_on_partitions(r, list(r.config.partitions or ()), store) for r in built]


def _on_partitions(
    runner: bootstrap.Runner, partitions: list[int], store: CheckpointStore[db.Connection]
) -> bootstrap.Runner:
    """The runner, reading ``partitions`` directly (a rebuild joins no consumer group)."""
    config = replace(runner.config, partitions=partitions)
    return ProjectionRunner(config, runner.view, store, runner.reader, runner.writer, runner.codec)


@dataclass(frozen=True, slots=True)
class _Target:
    """A version to run: of which view, and (a view of resolved) from which identity."""

    view: str
    version: int
    resumed: bool
    identity: int = 1


async def rebuild(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    *,
    switch: bool = False,
    report: Report | None = None,
    identity: int | None = None,
    workers: int | None = None,
) -> Rebuilt:
    """Build a new version of ``view`` (or resume the one begun) up to the end of the
    log; with ``switch``, make it live. A view of ``touchlog.resolved`` reads the topic of
    ``identity`` (default: the newest identity version being built, else the live one);
    a rebuilt identity version writes a topic of its own.

    ``workers``: processes sharing the partitions (default: one per core, at most one per
    partition). Identity is rebuilt by one process only: it reads every partition in
    one order, and its merges join customers of any partitions."""
    spec = _view(view)
    _check_workers(workers)
    if view == "identity" and workers not in (None, 1):
        raise versions.VersionError(
            "identity is rebuilt by one process: it reads every partition in one order, and "
            "a merge joins customers of any partitions"
        )
    source: int | None = None
    if view in bootstrap.RESOLVED_VIEWS:
        source = await _identity_source(pool, identity)
        if switch:
            await _goes_live_alone(pool, view, source)
    elif identity is not None:
        raise versions.VersionError(
            f"--identity names the topic a view of resolved reads "
            f"({', '.join(bootstrap.RESOLVED_VIEWS)}); {view} does not read it"
        )
    if view == "identity" and switch:
        raise versions.VersionError(
            "identity goes live together with the views below it: rebuild identity, then "
            f"each of {', '.join(bootstrap.RESOLVED_VIEWS)} (from its topic), then "
            "`touchlog projections switch identity`"
        )
    async with pool.acquire() as conn:
        version, resumed = await versions.begin_rebuild(
            conn, view, spec.schema, spec.shared_schema, source
        )
    if view == "identity":
        await _create_resolved_topic(settings, endpoints, version)
    log.info("rebuild_started", view=view, version=version, resumed=resumed, identity=source)
    [done] = await _run(
        settings,
        endpoints,
        pool,
        [_Target(view, version, resumed, source or 1)],
        switch,
        report,
        workers,
    )
    return done


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise versions.VersionError(f"--workers {workers}: at least one process runs a rebuild")


async def switch(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    view: str,
    *,
    report: Report | None = None,
    workers: int | None = None,
) -> Rebuilt:
    """Make the rebuilt version of ``view`` live, catching it up first; identity goes
    live with a version of every view of resolved rebuilt from its topic. ``workers``: as
    for ``rebuild`` (identity's own runner stays one process)."""
    _view(view)
    _check_workers(workers)
    pending = await _pending(pool, view)
    if pending is None:
        raise versions.VersionError(
            f"{view} has no rebuilt version to switch to: "
            f"run `touchlog projections rebuild {view}` first"
        )
    targets = [_Target(view, pending.version, True, pending.reads_identity)]
    if view in bootstrap.RESOLVED_VIEWS:
        await _goes_live_alone(pool, view, pending.reads_identity, pending.version)
    if view == "identity":
        missing = []
        for below in bootstrap.RESOLVED_VIEWS:
            built = await _pending(pool, below)
            if built is None or built.reads_identity != pending.version:
                missing.append(below)
            else:
                targets.append(_Target(below, built.version, True, pending.version))
        if missing:
            raise versions.VersionError(
                f"identity v{pending.version} goes live together with the views of its topic "
                f"({versions.resolved_topic(settings.topic_resolved, pending.version)}), and "
                f"these are not rebuilt from it yet: {', '.join(missing)}; run "
                f"`touchlog projections rebuild NAME --identity {pending.version}` for each"
            )
    done = await _run(settings, endpoints, pool, targets, True, report, workers)
    return replace(done[0], together=tuple((d.view, d.version) for d in done[1:]))


async def _pending(pool: asyncpg.Pool, view: str) -> versions.Version | None:
    """The newest version of ``view`` being built or ready, if any."""
    found = [v for v in await versions.versions(pool, view) if v.state in ("building", "ready")]
    return found[-1] if found else None


async def _identity_source(pool: asyncpg.Pool, asked: int | None) -> int:
    """The identity version a view of resolved is rebuilt from: ``asked``, else the
    newest being built, else the live one."""
    known = {v.version: v for v in await versions.versions(pool, "identity")}
    if asked is not None:
        if asked not in known or known[asked].state == "retired":
            usable = ", ".join(f"v{n}" for n, v in known.items() if v.state != "retired")
            raise versions.VersionError(
                f"--identity {asked}: no such identity version to read (usable: {usable or 'none'})"
            )
        return asked
    building = [n for n, v in known.items() if v.state in ("building", "ready")]
    return max(building) if building else await versions.live_version(pool, "identity") or 1


async def _goes_live_alone(
    pool: asyncpg.Pool, view: str, source: int, version: int | None = None
) -> None:
    """Refuse to switch a view of resolved alone to a version reading another identity
    version's topic than the live one."""
    live = await versions.live_version(pool, "identity") or 1
    if source != live:
        name = f"{view} v{version}" if version is not None else view
        raise versions.VersionError(
            f"{name} is built from identity v{source}'s topic, and identity v{live} is live: "
            "it goes live with identity (`touchlog projections switch identity`)"
        )


async def _create_resolved_topic(
    settings: Settings, endpoints: bootstrap.Endpoints, version: int
) -> None:
    """The topic identity ``version`` publishes to, with as many partitions as the
    configured one (a customer's events keep one partition)."""
    [count] = [len(ps) for ps in (await _partitions(endpoints, [settings.topic_resolved])).values()]
    await ensure_topics(
        endpoints.bootstrap_servers,
        [versions.resolved_topic(settings.topic_resolved, version)],
        count,
        settings.replication_factor,
        security=endpoints.kafka_security,
    )


@dataclass(slots=True)
class _Running:
    target: _Target
    topics: tuple[str, ...]
    name: str
    """The view's runners' name, under which the version's offsets are kept."""
    watch: _Watch
    first: dict[tuple[str, int], int]


async def _run(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    targets: Sequence[_Target],
    switch_after: bool,
    report: Report | None,
    workers: int | None = None,
) -> list[Rebuilt]:
    """Run the ``targets`` ' versions to the end of their logs (identity's first: the
    views below it then catch up to what it published), then switch them if asked."""
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        kafka = None
        if any(t.view == "identity" for t in targets):
            kafka = await stack.enter_async_context(
                bootstrap.producer(endpoints, "touchlog-identity-rebuild")
            )
        crew = _Crew()
        tasks = crew.tasks
        running = []
        previous: dict[str, int] = {}
        try:
            for target in targets:
                names = topics(settings, target.view, target.identity)
                partitions = await _partitions(endpoints, names)
                name = bootstrap.VERSIONED[target.view].name
                watch = _Watch(pool, target.view, target.version, name, names, report)
                running.append(_Running(target, names, name, watch, await watch.applied()))
                count = rebuild_workers.worker_count(target.view, partitions, workers)
                if count == 1:
                    crew.run_here(
                        target, _runners(settings, endpoints, pool, target, partitions, kafka)
                    )
                else:
                    await _start_shares(settings, endpoints, pool, target, partitions, count, crew)
            for run in running:
                ends = await _log_ends(pool, endpoints, run)
                run.watch.end = sum(ends.values())
                await run.watch.until(tasks, ends)
                await versions.mark_ready(pool, run.target.view, run.target.version)
            if switch_after:
                previous = await _switch(pool, endpoints, running, tasks)
        finally:
            await crew.stopped()
        for task in tasks:
            if (exc := task.exception()) is not None:
                raise exc
    seconds = time.monotonic() - started
    return [
        Rebuilt(
            run.target.view,
            run.target.version,
            run.target.resumed,
            previous.get(run.target.view),
            sum((await run.watch.applied()).values()) - sum(run.first.values()),
            seconds,
        )
        for run in running
    ]


class _Crew:
    """What a rebuild runs — runners in this process, worker processes — and the locks it
    holds for them; stopped together."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        """Each runner's here, each worker process's supervision: a failure ends it."""
        self.held: list[VersionedCheckpoints] = []

    def run_here(self, target: _Target, runners: Sequence[bootstrap.Runner]) -> None:
        name = f"{target.view}-v{target.version}"
        self.tasks += [asyncio.create_task(r.run(self.stop), name=name) for r in runners]

    async def stopped(self) -> None:
        """Every runner and worker stopped at a batch boundary; then the locks let go."""
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for store in self.held:
            await store.close()


async def _start_shares(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    target: _Target,
    partitions: dict[str, list[int]],
    count: int,
    crew: _Crew,
) -> None:
    """Run ``target`` on ``count`` shares of its ``partitions``: the first here, the
    others in worker processes; the version's exclusive lock is held here for all of
    them (a live runner or a second rebuild of it is refused: ``VersionBusy``)."""
    spec = _view(target.view)
    lock = VersionedCheckpoints(pool, target.view, endpoints.database_url, version=target.version)
    await lock.prepare(spec.schema, spec.shared_schema)
    crew.held.append(lock)
    own, *others = rebuild_workers.jobs(
        settings, endpoints, target.view, target.version, target.identity, partitions, count
    )
    for job in others:  # first: they take a while to start
        crew.tasks.append(await rebuild_workers.start(job, crew.stop))
    crew.run_here(
        target,
        share_runners(
            settings, endpoints, pool, target.view, target.version, target.identity, own.partitions
        ),
    )


async def _switch(
    pool: asyncpg.Pool,
    endpoints: bootstrap.Endpoints,
    running: Sequence[_Running],
    tasks: Sequence[asyncio.Task[None]],
) -> dict[str, int]:
    """The atomic switch (see the module's docstring) of every running version, in one
    transaction; retried until it happens. With identity, the views below it catch up
    to the end of its new topic once it has caught up to the live graph."""
    with_identity = running[0].target.view == "identity"
    while True:
        async with pool.acquire() as conn, conn.transaction():
            live = {
                run.target.view: await versions.lock_live(conn, run.target.view) for run in running
            }
            try:
                async with asyncio.timeout(SWITCH_WAIT_S):
                    for run in running:
                        if with_identity and run.target.view != "identity":
                            target = await _log_ends(pool, endpoints, run)
                        else:
                            target = await run.watch.applied_by(live[run.target.view])
                        await run.watch.until(tasks, target)
            except TimeoutError:
                log.warning("switch_postponed", views=list(live))
                continue  # the transaction rolls back: the live runners go on meanwhile
            previous = {
                run.target.view: await versions.make_live(
                    conn, run.target.view, run.target.version, _view(run.target.view).schema
                )
                for run in running
            }
        for run in running:
            log.info(
                "view_switched",
                view=run.target.view,
                version=run.target.version,
                previous=previous[run.target.view],
            )
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
    pool: asyncpg.Pool, endpoints: bootstrap.Endpoints, run: _Running
) -> dict[tuple[str, int], int]:
    """The end of each partition of the version's topics now (a fetch's high watermark)."""
    consumer = versions.consumer(run.name, run.target.version)
    found = await stage_status(
        pool,
        endpoints.bootstrap_servers,
        [Stage(run.target.view, consumer, topic) for topic in run.topics],
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


def _view(view: str) -> bootstrap.VersionedTables:
    try:
        return bootstrap.VERSIONED[view]
    except KeyError:
        known = ", ".join(bootstrap.VERSIONED)
        raise versions.VersionError(f"no view named {view!r}; views: {known}") from None


@dataclass(frozen=True, slots=True)
class GraphComparison:
    """The live identity graph against another version of it."""

    live: int
    other: int
    applied: tuple[int, int]
    """Events of the touchpoints each version has applied: equal graphs are expected only
    at the same offsets."""
    tables: list[comparison.TableComparison]

    @property
    def equal(self) -> bool:
        return self.applied[0] == self.applied[1] and all(t.equal for t in self.tables)


async def compare_identity(
    settings: Settings, pool: asyncpg.Pool, version: int | None = None
) -> GraphComparison:
    """The live identity graph against ``version`` (default: the newest other one)."""
    known = [v for v in await versions.versions(pool, "identity") if v.state != "live"]
    live = await versions.live_version(pool, "identity")
    if live is None or not known:
        raise versions.VersionError(
            "no identity version to compare with the live one: "
            "run `touchlog projections rebuild identity` first"
        )
    other = version if version is not None else known[-1].version
    if other not in {v.version for v in known}:
        found = ", ".join(f"v{v.version}" for v in known)
        raise versions.VersionError(f"--version {other}: not a version to compare ({found})")
    name = bootstrap.VERSIONED["identity"].name
    applied = []
    for number in (live, other):
        offsets = await stored_offsets(
            pool, versions.consumer(name, number), settings.topic_touchpoints
        )
        applied.append(sum(offsets.values()))
    tables = await comparison.compare(
        pool, versions.namespace("identity", live), versions.namespace("identity", other)
    )
    return GraphComparison(live, other, (applied[0], applied[1]), tables)
