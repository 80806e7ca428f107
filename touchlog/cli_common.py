"""What every ``touchlog`` command shares: how one runs, fails, stops, reaches the log and
the database. The command modules import this; ``touchlog.cli`` assembles them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from consumers.process import tune_gc
from projections.db import create_pool
from touchlog import bootstrap
from touchlog.logs import configure_logging
from touchlog.settings import Settings

if TYPE_CHECKING:
    from producers import Publisher

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
"""An asynchronous command: what it is given, its exit code."""

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def command(run: Command) -> Callable[[argparse.Namespace], int]:
    """The one way a command runs: settings read, logging configured, on an event loop."""

    def main(args: argparse.Namespace) -> int:
        settings = Settings()
        configure_logging(settings.log_format, settings.log_level)
        tune_gc()
        return asyncio.run(run(settings, args))

    return main


def fail(message: str, code: int = 2) -> int:
    print(f"touchlog: {message}", file=sys.stderr)
    return code


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def aware(text: str) -> datetime:
    """An argument that is a time: ISO 8601 with an offset, in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. 2024-05-01T00:00+02:00")
    return moment.astimezone(UTC)


def publisher(
    settings: Settings,
    endpoints: bootstrap.Endpoints | None = None,
    client_id: str = "touchlog-sdk",
) -> Publisher:
    """A publisher to ``touchlog.touchpoints`` on the configured (or given) broker,
    sealing personal fields unless ``seal_personal_data`` is off (docs/PRIVACY.md)."""
    from privacy.runtime import producer_sealer
    from producers import Publisher  # the SDK's client starts only for a command that sends

    endpoints = endpoints or bootstrap.configured_endpoints(settings)
    return Publisher(
        endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
        client_id=client_id,
        security=endpoints.kafka_security,
        sealer=producer_sealer(settings, endpoints.database_url),
    )


@contextlib.asynccontextmanager
async def pool_on(database_url: str, max_size: int = 2) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def database(settings: Settings, max_size: int = 2) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the configured database, its tables created."""
    async with pool_on(bootstrap.configured_endpoints(settings).database_url, max_size) as pool:
        await bootstrap.create_tables(pool)
        yield pool


async def create_tables(settings: Settings) -> None:
    """touchlog's tables on the configured database (``CREATE … IF NOT EXISTS``)."""
    async with database(settings, max_size=1):
        return
