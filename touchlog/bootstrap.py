"""Wiring: resolve the broker and database (embedded or configured), build components.

The one place that knows which adapter goes where; the CLI and the tests call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from api import audit_log
from api.roles import Role
from consumers import checkpoints
from consumers.checkpoints import PostgresCheckpoints
from consumers.helper_process import HELPER
from consumers.kafka import KafkaReader, KafkaWriter
from consumers.outage import Outage
from consumers.publishing import publish_all
from consumers.resolver import IdentityResolver
from consumers.runner import ProjectionRunner, RunnerConfig
from consumers.triggers.tail import published_ids
from consumers.triggers.worker import TriggerTopics
from consumers.versioned import VersionedCheckpoints
from consumers.view import View
from consumers.webhooks import DispatchConfig, WebhookDispatcher
from consumers.webhooks.config import Subscriber, parse_subscribers
from events.codec import TOUCHPOINTS, Codec
from events.documents import validated
from privacy import runtime as privacy
from privacy.runtime import SealingConfig
from producers.gateway import postgres as gateway_tables
from producers.partitioning import SubjectPartitioner
from projections import db, versions
from projections.audiences import Audiences, parse_audiences
from projections.audiences.outbox import AudiencePublisher
from projections.audiences.postgres import AudienceView
from projections.identity import IdentityRules
from projections.identity import postgres as identity_store
from projections.metrics.postgres import MetricsView
from projections.metrics.readers import AnalyticsPolicy
from projections.profile.postgres import ProfileView
from projections.recommendations.postgres import CoPurchaseView
from projections.timeline.postgres import TimelineView
from projections.triggers import DEFAULT_RULES, TriggerRules, parse_rules
from projections.triggers.postgres import TRIGGERS, TriggerStore
from touchlog import config_files, embedded, kafka_security
from touchlog.durable_broker import durable_broker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import ApiToken, Settings

if TYPE_CHECKING:
    from api.auth import Caller
    from consumers.triggers.app import TriggerAppConfig
    from producers.gateway import GatewayConfig

log = structlog.get_logger()


@dataclass(frozen=True)
class Endpoints:
    """Where the running system's services are, for any other client to connect."""

    bootstrap_servers: str
    database_url: str
    idempotence: bool
    embedded_broker: bool
    embedded_postgres: bool
    kafka_security: Mapping[str, Any] = field(default_factory=dict)
    """TLS / SASL options of every Kafka client (``touchlog.kafka_security``); none for
    the embedded broker, which is plaintext on 127.0.0.1."""


def endpoints_file(settings: Settings) -> Path:
    return settings.data_dir / "endpoints.json"


def _published_endpoints(settings: Settings) -> dict[str, str]:
    """Endpoints written by a running ``touchlog up`` (used when none are configured)."""
    path = endpoints_file(settings)
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text())
    return data


def configured_endpoints(settings: Settings, *, database_needed: bool = True) -> Endpoints:
    """Endpoints from settings, else from a running ``touchlog up``; never starts anything."""
    published = _published_endpoints(settings)
    bootstrap = settings.kafka_bootstrap_servers or published.get("bootstrap_servers")
    database = (
        str(settings.database_url) if settings.database_url else published.get("database_url")
    )
    if not database_needed:
        database = database or ""
    if not bootstrap or database is None:
        missing = [
            n
            for n, v in (
                ("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS", bool(bootstrap)),
                ("DATABASE_URL", database is not None),
            )
            if not v
        ]
        raise SystemExit(
            f"touchlog: no {' and no '.join(missing)} configured and no running `touchlog up` "
            f"found in {settings.data_dir}/; start one or set the variable(s)."
        )
    embedded_broker = settings.kafka_bootstrap_servers is None
    return Endpoints(
        bootstrap,
        database,
        settings.kafka_idempotence and not embedded_broker,
        embedded_broker,
        settings.database_url is None,
        {} if embedded_broker else kafka_security.aiokafka_options(settings),
    )


@contextlib.asynccontextmanager
async def infrastructure(
    settings: Settings, *, publish: bool = True, stop: asyncio.Event | None = None
) -> AsyncIterator[Endpoints]:
    """The configured broker and database, or embedded ones started for the duration.

    The embedded broker's log is kept across restarts (``touchlog.durable_broker``):
    restored before anything else runs, archived while it runs. ``stop`` is set if the
    archive fails meanwhile, so that ``touchlog up`` stops rather than acknowledge
    events its next start would not restore."""
    async with contextlib.AsyncExitStack() as stack:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.kafka_bootstrap_servers:  # a real Kafka keeps its log: nothing to archive
            bootstrap, idempotence = settings.kafka_bootstrap_servers, settings.kafka_idempotence
        else:
            broker = await stack.enter_async_context(
                durable_broker(settings.data_dir, failed=stop.set if stop else lambda: None)
            )
            bootstrap, idempotence = broker.bootstrap_servers, False
        if settings.database_url:
            database_url = str(settings.database_url)
        else:
            database_url = stack.enter_context(
                embedded.embedded_postgres(settings.data_dir / "postgres")
            )
        endpoints = Endpoints(
            bootstrap,
            database_url,
            idempotence,
            settings.kafka_bootstrap_servers is None,
            settings.database_url is None,
            kafka_security.aiokafka_options(settings) if settings.kafka_bootstrap_servers else {},
        )
        await ensure_topics(
            bootstrap,
            settings.topics(),
            settings.partitions,
            settings.replication_factor,
            security=endpoints.kafka_security,
        )
        if publish:
            path = endpoints_file(settings)
            path.write_text(
                json.dumps(
                    {
                        "bootstrap_servers": bootstrap,
                        "database_url": database_url,
                        "pid": os.getpid(),
                    }
                )
            )
            stack.callback(path.unlink, missing_ok=True)
        yield endpoints


SCHEMAS = (
    checkpoints.SCHEMA,
    versions.REGISTRY,
    gateway_tables.SCHEMA,
    audit_log.SCHEMA,
    *privacy.SCHEMAS,
)
"""Every table touchlog keeps in the default schema (beside the versioned views' views),
in the order their DDL must run."""


class VersionedTables(Protocol):
    """What the tools that create, list or drop a versioned view need of it."""

    @property
    def name(self) -> str: ...
    @property
    def schema(self) -> Sequence[str]: ...
    @property
    def shared_schema(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class IdentityTables:
    """The identity graph's tables (its view, the resolver, needs a producer and rules)."""

    name: str = IdentityResolver.name
    schema: Sequence[str] = (identity_store.SCHEMA,)
    shared_schema: Sequence[str] = ()


VERSIONED: dict[str, VersionedTables] = {
    "identity": IdentityTables(),
    "timeline": TimelineView(),
    "profile": ProfileView(),
    "metrics": MetricsView(),
    "triggers": TriggerStore(),
    "audiences": AudienceView(),
    "recommendations": CoPurchaseView(),
}
"""The views kept in versions (``projections/versions.py``), by the name ``touchlog
projections`` knows them by: their DDL, for every tool that creates or drops them."""

RESOLVED_VIEWS = ("timeline", "profile", "metrics", "audiences", "recommendations")
"""The versioned views of ``touchlog.resolved``: each version reads the topic of one
identity version (``versions.resolved_topic``)."""


async def create_tables(pool: asyncpg.Pool) -> None:
    """Every table, and every versioned view's live version (created on first use)."""
    async with pool.acquire() as conn:
        await db.create_tables(conn, *SCHEMAS)
        for name, view in VERSIONED.items():
            await versions.ensure_live(conn, name, view.schema, view.shared_schema)


def identity_rules(settings: Settings) -> IdentityRules:
    """Rules from ``TOUCHLOG_IDENTITY_RULES`` (YAML), else defaults with the default region."""
    if settings.identity_rules is None:
        return IdentityRules(default_region=settings.default_region)
    return config_files.load(
        settings.identity_rules,
        lambda data, origin: validated(
            IdentityRules, {"default_region": settings.default_region, **(data or {})}, origin
        ),
    )


def analytics_policy(settings: Settings) -> AnalyticsPolicy:
    """The managers' analytics as configured: suppression, thresholds, campaign costs."""
    return AnalyticsPolicy(
        min_cell_customers=settings.analytics_min_cell_customers,
        change_threshold=settings.analytics_change_threshold,
        lapse_days=settings.analytics_lapse_days,
        conversion_days=settings.analytics_conversion_days,
        campaign_costs=settings.analytics_campaign_costs,
    )


def audiences(settings: Settings) -> Audiences:
    """Audience definitions from ``TOUCHLOG_AUDIENCES_FILE`` (YAML), else none."""
    if settings.audiences_file is None:
        return Audiences()
    return config_files.load(settings.audiences_file, parse_audiences)


def trigger_rules(settings: Settings) -> TriggerRules:
    """Rules from ``TOUCHLOG_TRIGGER_RULES`` (YAML), else the built-in ones."""
    if settings.trigger_rules is None:
        return DEFAULT_RULES
    return config_files.load(settings.trigger_rules, parse_rules)


def gateway_config(settings: Settings, endpoints: Endpoints) -> GatewayConfig:
    """The gateway's configuration, with the track mapping of
    ``TOUCHLOG_GATEWAY_TRACK_MAPPING`` (``DocumentError`` names its mistakes)."""
    from producers.gateway import BUILTIN, GatewayConfig, read_rules

    mapping = settings.gateway_track_mapping
    return GatewayConfig(
        bootstrap_servers=endpoints.bootstrap_servers,
        database_url=endpoints.database_url,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
        publish_timeout=settings.gateway_publish_timeout,
        retry_after=settings.gateway_retry_after,
        dedup_window=timedelta(days=settings.gateway_dedup_days),
        track_rules=dict(BUILTIN) if mapping is None else config_files.load(mapping, read_rules),
        kafka_security=endpoints.kafka_security,
        sealing=SealingConfig.of(settings),
    )


def trigger_app_config(
    settings: Settings, endpoints: Endpoints, *, manual_clock: bool = False
) -> TriggerAppConfig:
    from consumers.triggers.app import TriggerAppConfig  # faust: only where it runs

    return TriggerAppConfig(
        bootstrap_servers=endpoints.bootstrap_servers,
        topics=TriggerTopics(
            source=settings.topic_resolved,
            commands=settings.topic_trigger_commands,
            triggers=settings.topic_triggers,
            suppressed=settings.topic_triggers_suppressed,
            deadletter=settings.topic_deadletter,
        ),
        partitions=settings.partitions,
        data_dir=settings.data_dir / "triggers",
        app_id=settings.triggers_app_id,
        manual_clock=manual_clock,
        kafka_security=endpoints.kafka_security,
        broker_credentials=kafka_security.faust_credentials(endpoints.kafka_security),
        database_url=endpoints.database_url,
        co_purchases_refresh=settings.trigger_co_purchases_refresh,
        co_purchases_min_customers=settings.trigger_co_purchases_min_customers,
        sealing=SealingConfig.of(settings),
        outage_tolerance_s=settings.outage_tolerance_seconds,
    )


def _parse_tokens(data: Any, origin: str) -> dict[str, ApiToken]:
    tokens = validated(dict[str, ApiToken], data or {}, origin)
    return {str(token): who for token, who in tokens.items()}


def api_tokens(settings: Settings) -> dict[str, Caller]:
    """API tokens from ``TOUCHLOG_API_TOKENS`` (JSON) and ``TOUCHLOG_API_TOKENS_FILE`` (YAML)."""
    from api.auth import Caller

    tokens = dict(settings.api_tokens)
    if settings.api_tokens_file is not None:
        tokens |= config_files.load(settings.api_tokens_file, _parse_tokens)
    if not tokens:
        log.warning(
            "api_tokens_missing",
            effect="every route but /healthz answers 401",
            configure="TOUCHLOG_API_TOKENS or TOUCHLOG_API_TOKENS_FILE",
        )
    return {token: Caller(who.name, who.role) for token, who in tokens.items()}


@contextlib.asynccontextmanager
async def producer(endpoints: Endpoints, client_id: str) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=endpoints.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=endpoints.idempotence,
        linger_ms=5,
        # One producer batch per partition per resolver transaction: acknowledgements
        # are awaited batch by batch per partition. Kafka's default message limit is 1 MB.
        max_batch_size=1_000_000,
        partitioner=SubjectPartitioner(),
        **endpoints.kafka_security,
    )
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


def _config(
    settings: Settings,
    endpoints: Endpoints,
    topic: str,
    stage: str,
    partitions: list[int] | None,
    *,
    ordered: bool = False,
) -> RunnerConfig:
    return RunnerConfig(
        bootstrap_servers=endpoints.bootstrap_servers,
        topic=topic,
        deadletter_topic=settings.topic_deadletter,
        group_id=f"{settings.consumer_group}-{stage}",
        idempotence=endpoints.idempotence,
        batch_max_records=(
            settings.identity_batch_max_records
            if stage == "identity"
            else settings.batch_max_records
        ),
        partitions=partitions,
        ordered_by_timestamp=ordered,
        kafka_security=endpoints.kafka_security,
        outage_tolerance_s=settings.outage_tolerance_seconds,
    )


Runner = ProjectionRunner[db.Connection]
"""A runner on Kafka and PostgreSQL."""


@dataclass(frozen=True, slots=True)
class Versioning:
    """A versioned view's runner: which view of ``VERSIONED``, the database its version
    lock is held on, and the version a rebuild writes (None: follow the live one)."""

    view: str
    dsn: str
    version: int | None = None
    resolved: str | None = None
    """For a view of ``touchlog.resolved``: its configured name (see ``VersionedCheckpoints``)."""


def projection_runner(
    config: RunnerConfig,
    pool: asyncpg.Pool,
    view: View[db.Connection],
    codec: Codec[Any] = TOUCHPOINTS,
    *,
    versioned: Versioning | None = None,
) -> Runner:
    """``view`` applied from Kafka, its offsets and dead letters kept in ``pool``; a
    ``versioned`` view's in its live version, or the version a rebuild writes."""
    group = None if config.partitions is not None else config.group_id
    store = (
        PostgresCheckpoints(pool)
        if versioned is None
        else VersionedCheckpoints(
            pool,
            versioned.view,
            versioned.dsn,
            version=versioned.version,
            resolved=versioned.resolved,
        )
    )
    return ProjectionRunner(
        config,
        view,
        store,
        KafkaReader(config.bootstrap_servers, view.name, group, config.kafka_security),
        KafkaWriter(
            config.bootstrap_servers,
            f"{view.name}-deadletters",
            idempotence=config.idempotence,
            security=config.kafka_security,
        ),
        codec,
    )


def resolver_runner(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    kafka: AIOKafkaProducer,
    partitions: list[int] | None = None,
    *,
    rules: IdentityRules | None = None,
    version: int | None = None,
) -> Runner:
    """touchpoints → identity graph → resolved. Run one: it orders events across partitions.
    Its graph's live version (or ``version``, for a rebuild) publishes to its own topic."""

    def topic() -> str:  # the version's, once the store knows which it writes
        store = cast(VersionedCheckpoints, runner.store)
        return versions.resolved_topic(settings.topic_resolved, store.version)

    resolver = IdentityResolver(
        rules or identity_rules(settings),
        kafka,
        topic,
        HELPER if settings.identity_helper_process else None,
        privacy.keys_for(settings, pool),
    )
    config = _config(
        settings, endpoints, settings.topic_touchpoints, "identity", partitions, ordered=True
    )
    versioned = Versioning("identity", endpoints.database_url, version)
    runner = projection_runner(config, pool, resolver, versioned=versioned)
    return runner


def resolved_view_runner(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    stage: str,
    partitions: list[int] | None = None,
    version: int | None = None,
    identity_version: int = 1,
) -> Runner:
    """The runner of a view of ``touchlog.resolved``: the ``timeline``, the ``profile``,
    the ``metrics``, the ``audiences`` or the ``recommendations`` (its live version, or
    ``version`` for a rebuild), reading the topic of ``identity_version``."""
    view: View[db.Connection] = (
        TimelineView()
        if stage == "timeline"
        else MetricsView(settings.analytics_attribution_days)
        if stage == "metrics"
        else AudienceView(audiences(settings))
        if stage == "audiences"
        else CoPurchaseView()
        if stage == "recommendations"
        else ProfileView(settings.default_region)
    )
    topic = versions.resolved_topic(settings.topic_resolved, identity_version)
    config = _config(settings, endpoints, topic, stage, partitions)
    versioned = Versioning(stage, endpoints.database_url, version, settings.topic_resolved)
    codec = privacy.resolved_decoder(privacy.keys_for(settings, pool).opener)
    return projection_runner(config, pool, view, codec, versioned=versioned)


def trigger_store_runners(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    subscribers: Sequence[Subscriber],
    partitions: list[int] | None = None,
    version: int | None = None,
) -> list[Runner]:
    """The triggers the faust app published (and those it suppressed) → PostgreSQL, with
    a webhook delivery enqueued for each matching subscriber."""
    store = TriggerStore([s.subscription() for s in subscribers])
    return [
        projection_runner(
            _config(settings, endpoints, topic, stage, partitions),
            pool,
            store,
            TRIGGERS,
            versioned=Versioning("triggers", endpoints.database_url, version),
        )
        for topic, stage in (
            (settings.topic_triggers, "triggers"),
            (settings.topic_triggers_suppressed, "triggers-suppressed"),
        )
    ]


def webhook_subscribers(settings: Settings) -> list[Subscriber]:
    """Subscribers from ``TOUCHLOG_WEBHOOKS_FILE`` (YAML); none when unset."""
    return (
        []
        if settings.webhooks_file is None
        else config_files.load(settings.webhooks_file, parse_subscribers)
    )


def audience_publisher(
    settings: Settings, endpoints: Endpoints, pool: asyncpg.Pool, kafka: AIOKafkaProducer
) -> AudiencePublisher:
    """The audiences' outbox → ``touchlog.audiences``, recalling at start what the topic
    holds already (so that each change reaches it once)."""
    topic = settings.topic_audiences

    async def recall(tail: int) -> set[str]:
        partitions = await kafka.partitions_for(topic)
        return await published_ids(
            endpoints.bootstrap_servers, [topic], partitions, tail, "id", endpoints.kafka_security
        )

    return AudiencePublisher(pool, functools.partial(publish_all, kafka, topic), recall)


STAGES = (
    "identity",
    "timeline",
    "profile",
    "metrics",
    "triggers",
    "audiences",
    "recommendations",
)


async def run_stages(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    stages: Sequence[str] = STAGES,
    partitions: list[int] | None = None,
    rules: IdentityRules | None = None,
) -> None:
    """Run the given stages until ``stop``; the first to fail stops the others.

    Creates missing topics first: a stage reading a topic nobody has written yet (the
    trigger topics before the faust app ran) would wait for partitions that never come."""
    await ensure_topics(
        endpoints.bootstrap_servers,
        settings.topics(),
        settings.partitions,
        settings.replication_factor,
        security=endpoints.kafka_security,
    )
    async with producer(endpoints, "touchlog-resolver") as kafka:
        runners = []
        if "identity" in stages:
            runners.append(
                resolver_runner(settings, endpoints, pool, kafka, partitions, rules=rules)
            )
        tasks = []
        if below := [s for s in RESOLVED_VIEWS if s in stages]:
            views = resolved_views(settings, endpoints, pool, stop, below, partitions)
            tasks.append(asyncio.create_task(views, name="resolved-views"))
        if "audiences" in stages:  # entries and exits, from the outbox to their topic
            publisher = audience_publisher(settings, endpoints, pool, kafka)
            tasks.append(asyncio.create_task(publisher.run(stop), name="audience-publisher"))
        if "triggers" in stages:
            subscribers = webhook_subscribers(settings)
            runners += trigger_store_runners(settings, endpoints, pool, subscribers, partitions)
            dispatcher = WebhookDispatcher(
                pool,
                subscribers,
                DispatchConfig(outage_tolerance_s=settings.outage_tolerance_seconds),
            )
            tasks.append(asyncio.create_task(dispatcher.run(stop), name="webhooks"))
        tasks += [asyncio.create_task(r.run(stop), name=r.name) for r in runners]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    stop.set()
        finally:
            stop.set()
            await _drain(tasks)


IDENTITY_POLL_S = 1.0
"""How often the views of ``touchlog.resolved`` check which identity version is live."""


async def resolved_views(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    stages: Sequence[str],
    partitions: list[int] | None = None,
) -> None:
    """The views of ``touchlog.resolved`` on the live identity version's topic, until
    ``stop``; started again on the new topic when identity is switched (their stores
    apply nothing from the old one meanwhile: ``SourceMoved``)."""
    while not stop.is_set():
        identity = await live_identity(pool)
        runners = [
            resolved_view_runner(
                settings, endpoints, pool, s, partitions, identity_version=identity
            )
            for s in stages
        ]
        moved = asyncio.Event()
        tasks = [asyncio.create_task(r.run(moved), name=r.name) for r in runners]
        watching = asyncio.create_task(identity_moved(pool, identity, stop))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, watching, stopping], return_when=asyncio.FIRST_COMPLETED)
        moved.set()
        watching.cancel()
        stopping.cancel()
        await _drain(tasks)
        if watching.done() and not watching.cancelled() and watching.exception():
            raise watching.exception()  # type: ignore[misc]  # the database stayed away
        if not stop.is_set():
            log.info("resolved_views_restarted", was=identity)


async def identity_moved(pool: asyncpg.Pool, identity: int, stop: asyncio.Event) -> None:
    """Return once ``stop`` is set or another identity version than ``identity`` is live."""
    while not stop.is_set():
        if await live_identity(pool) != identity:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDENTITY_POLL_S)


async def live_identity(pool: asyncpg.Pool) -> int:
    """The live identity version (1 before any); an unreachable database is waited out
    as the stages wait it out (``consumers/outage.py``), then surfaces."""
    outage = Outage()
    while True:
        try:
            return await versions.live_version(pool, "identity") or 1
        except PostgresCheckpoints.outages as exc:
            delay = outage.failed()
            if delay is None:
                raise
            log.warning("identity_version_unknown", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)


SHUTDOWN_GRACE = 30.0  # seconds the stages get to finish their batch once asked to stop


async def _drain(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Wait for the stages to stop; cancel any still running after the grace period (one
    stuck on an unreachable broker must not keep the process alive); re-raise the first
    failure."""
    _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
    for task in stuck:
        log.error("stage_stop_timeout", stage=task.get_name(), grace_s=SHUTDOWN_GRACE)
        task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        if task not in stuck and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def session_tokens() -> dict[str, Caller]:
    """One fresh token per role, for a ``touchlog up`` with none configured (demo, trial):
    printed at start, valid until the process stops."""
    from api.auth import Caller

    return {
        secrets.token_urlsafe(18): Caller(f"{role.value} (this run)", role)
        for role in (Role.AGENT, Role.MANAGER, Role.MARKETING)
    }
