"""Wiring: resolve the broker and database (embedded or configured), build components.

The one place that knows which adapter goes where; the CLI and the tests call it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from consumers import checkpoints
from consumers.runner import ProjectionRunner, RunnerConfig
from projections.timeline.postgres import TimelineView
from touchlog import embedded
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

log = structlog.get_logger()


@dataclass(frozen=True)
class Endpoints:
    """Where the running system's services are, for any other client to connect."""

    bootstrap_servers: str
    database_url: str
    idempotence: bool
    embedded_broker: bool
    embedded_postgres: bool


def endpoints_file(settings: Settings) -> Path:
    return settings.data_dir / "endpoints.json"


def _published_endpoints(settings: Settings) -> dict[str, str]:
    """Endpoints written by a running ``touchlog up`` (used when none are configured)."""
    path = endpoints_file(settings)
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text())
    return data


def configured_endpoints(settings: Settings) -> Endpoints:
    """Endpoints from settings, else from a running ``touchlog up``; never starts anything."""
    published = _published_endpoints(settings)
    bootstrap = settings.kafka_bootstrap_servers or published.get("bootstrap_servers")
    database = (
        str(settings.database_url) if settings.database_url else published.get("database_url")
    )
    if not bootstrap or not database:
        missing = [
            n
            for n, v in (
                ("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS", bootstrap),
                ("DATABASE_URL", database),
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
    )


@contextlib.asynccontextmanager
async def infrastructure(settings: Settings, *, publish: bool = True) -> AsyncIterator[Endpoints]:
    """The configured broker and database, or embedded ones started for the duration."""
    with contextlib.ExitStack() as stack:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.kafka_bootstrap_servers:
            bootstrap, idempotence = settings.kafka_bootstrap_servers, settings.kafka_idempotence
        else:
            broker = stack.enter_context(
                embedded.embedded_broker(log_file=settings.data_dir / "broker.log")
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
        )
        await ensure_topics(
            bootstrap,
            [
                settings.topic_touchpoints,
                settings.topic_resolved,
                settings.topic_deadletter,
                settings.topic_triggers,
            ],
            settings.partitions,
            settings.replication_factor,
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


async def create_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await checkpoints.create_tables(conn)
        await TimelineView().create(conn)


def timeline_runner(
    settings: Settings,
    endpoints: Endpoints,
    pool: asyncpg.Pool,
    partitions: list[int] | None = None,
) -> ProjectionRunner:
    config = RunnerConfig(
        bootstrap_servers=endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        deadletter_topic=settings.topic_deadletter,
        group_id=settings.consumer_group,
        idempotence=endpoints.idempotence,
        batch_max_records=settings.batch_max_records,
        partitions=partitions,
    )
    return ProjectionRunner(config, pool, TimelineView())
