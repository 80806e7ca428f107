"""Parts of touchlog run alone, on configured services.

touchlog runner [--stage S] [--partitions P]   the stream stages
touchlog api                                   the HTTP API
touchlog init                                  topics and tables
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

import uvicorn

from consumers import metrics
from touchlog import bootstrap, cli_privacy, cli_status
from touchlog.cli_common import (
    Subparsers,
    command,
    create_tables,
    pool_on,
    publisher,
    stop_on_signals,
)
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

if TYPE_CHECKING:
    from api.auth import Caller
    from events import Touchpoint
    from producers import Publisher


def register(sub: Subparsers) -> None:
    runner = sub.add_parser(
        "runner",
        help="Run the stream stages only: identity resolver, timeline and profile projections.",
    )
    runner.add_argument(
        "--stage",
        choices=("all", *bootstrap.STAGES),
        default="all",
        help="Which stage to run (default: all). Run one identity stage per deployment.",
    )
    runner.add_argument(
        "--partitions",
        help="Comma-separated partitions to read directly instead of joining the consumer group.",
    )
    runner.set_defaults(func=command(_runner))

    init = sub.add_parser("init", help="Create topics and tables on the configured services.")
    init.set_defaults(func=command(_init))

    api = sub.add_parser("api", help="Serve the HTTP API only.")
    api.set_defaults(func=command(_api))


class DecisionPublisher:
    """A manager's identity decision (confirm, reject, split), from the screen to the log:
    the SDK's publisher, started on the first decision (most API processes never make one)
    and waiting for the broker's acknowledgement each time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._publisher: Publisher | None = None
        self._starting = asyncio.Lock()

    async def __call__(self, event: Touchpoint) -> object:
        async with self._starting:
            if self._publisher is None:
                started = publisher(self.settings, client_id="touchlog-api")
                await started.start()
                self._publisher = started
        return await self._publisher.publish(event)

    async def close(self) -> None:
        """Stop the publisher, and with it its sealer's pool (at the API's shutdown)."""
        async with self._starting:
            started, self._publisher = self._publisher, None
        if started is not None:
            await started.stop()


def api_config(settings: Settings, database_url: str, tokens: dict[str, Caller]) -> uvicorn.Config:
    """The HTTP API as uvicorn serves it."""
    from api import create_app

    app = create_app(database_url, bootstrap.identity_rules(settings), tokens)
    app.state.stages = cli_status.catalogue(settings)  # GET /status reads the log
    app.state.analytics_policy = bootstrap.analytics_policy(settings)
    # What the API publishes and reads of the log is sealed with the keys of its own
    # database, which the settings may not name (an embedded one, a test's).
    on_its_database = settings.model_copy(update={"database_url": database_url})
    app.state.publish_decision = DecisionPublisher(on_its_database)  # the screen's desk
    app.state.on_shutdown = [app.state.publish_decision.close]
    app.state.erasure = cli_privacy.erasure(on_its_database, app.state.publish_decision)
    app.state.export_history = cli_privacy.export_history(on_its_database)
    return uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False
    )


async def _runner(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    async with pool_on(endpoints.database_url) as pool:
        stop = asyncio.Event()
        stop_on_signals(stop)
        partitions = [int(p) for p in args.partitions.split(",")] if args.partitions else None
        stages = bootstrap.STAGES if args.stage == "all" else (args.stage,)
        metrics.serve_on(settings.metrics_port)
        await bootstrap.run_stages(settings, endpoints, pool, stop, stages, partitions)
    return 0


async def _api(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    config = api_config(settings, endpoints.database_url, bootstrap.api_tokens(settings))
    await uvicorn.Server(config).serve()
    return 0


async def _init(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    await ensure_topics(
        endpoints.bootstrap_servers,
        settings.topics(),
        settings.partitions,
        settings.replication_factor,
        security=endpoints.kafka_security,
    )
    await create_tables(settings)
    print("topics and tables are ready")
    return 0
