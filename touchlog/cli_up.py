"""``touchlog up``: the whole system in one process (embedded services unless configured):
the stream stages, the API, and the triggers worker as a child process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
import uvicorn

from events.documents import DocumentError
from projections import versions
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, fail, pool_on, stop_on_signals
from touchlog.cli_privacy import retention_every
from touchlog.cli_publish import publish_demo
from touchlog.cli_services import api_config
from touchlog.http_server import EmbeddedServer
from touchlog.log_tail import records_in
from touchlog.settings import Settings

if TYPE_CHECKING:
    from api.auth import Caller

log = structlog.get_logger()


def register(sub: Subparsers) -> None:
    up = sub.add_parser(
        "up",
        help="Start broker, PostgreSQL (embedded unless configured), "
        "the projection runner, the API and the HTTP gateway.",
    )
    up.add_argument("--demo", action="store_true", help="Publish the demo sample once up.")
    up.add_argument("--customers", type=int, default=300, help="Demo customers (default 300).")
    up.set_defaults(func=command(_up))


async def _up(settings: Settings, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    async with (
        bootstrap.infrastructure(settings, stop=stop) as endpoints,
        pool_on(endpoints.database_url, max_size=4) as pool,
    ):
        await bootstrap.create_tables(pool)
        tokens = bootstrap.api_tokens(settings)
        demo_tokens = {} if tokens else bootstrap.session_tokens()
        server = EmbeddedServer(api_config(settings, endpoints.database_url, tokens or demo_tokens))
        try:
            gateway = EmbeddedServer(_gateway_config(settings, endpoints))
        except DocumentError as exc:
            return fail(f"TOUCHLOG_GATEWAY_TRACK_MAPPING: {exc}")
        write_key = await _demo_write_key(pool) if args.demo else None
        stop_on_signals(stop)
        tasks = {
            asyncio.create_task(server.serve(), name="api"),
            asyncio.create_task(gateway.serve(), name="gateway"),
            asyncio.create_task(_trigger_worker(settings, endpoints, pool, stop), name="triggers"),
            asyncio.create_task(retention_every(settings, pool, stop), name="retention"),
            stopping := asyncio.create_task(stop.wait(), name="signal"),
        }
        if await _started(server, tasks) and await _started(gateway, tasks):
            _print_endpoints(settings, endpoints, demo_tokens, write_key)
            if args.demo:
                await _demo_once(endpoints, settings, args.customers)
        stages = bootstrap.run_stages(settings, endpoints, pool, stop)
        tasks.add(asyncio.create_task(stages, name="stages"))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = gateway.should_exit = True
        await asyncio.gather(*tasks)  # re-raises what ended a component early
        return 0 if stopping in done else 1


def _gateway_config(settings: Settings, endpoints: bootstrap.Endpoints) -> uvicorn.Config:
    """The HTTP gateway as uvicorn serves it, beside the API (``touchlog gateway`` alone)."""
    from producers.gateway import create_gateway

    app = create_gateway(bootstrap.gateway_config(settings, endpoints))
    return uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
    )


async def _demo_write_key(pool: asyncpg.Pool) -> str:
    """A write key for the demo's web shop, whose Segment ``userId``s are touchlog
    customer ids (a signed-in customer); a new one each run, shown once."""
    from events.envelope import Channel
    from producers.gateway import sources

    key, _ = await sources.add(
        pool, "demo-web-shop", "retail", Channel.WEB, sources.USER_ID_AS_CUSTOMER_ID
    )
    return key


async def _started(server: EmbeddedServer, tasks: set[asyncio.Task[Any]]) -> bool:
    """Whether the server came up (rather than something ending first)."""
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({ready, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    return server.started


async def _trigger_worker(
    settings: Settings, endpoints: bootstrap.Endpoints, pool: asyncpg.Pool, stop: asyncio.Event
) -> None:
    """The faust triggers app, as a child process (faust runs its own event loop and
    signal handling) on the same broker, reading the live identity version's resolved
    topic; started again on the new one when identity is switched (faust cannot
    resubscribe); stopped with ``touchlog up``."""
    while not stop.is_set():
        identity = await bootstrap.live_identity(pool)
        env = os.environ | {
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "TOUCHLOG_DATA_DIR": str(settings.data_dir),
            "TOUCHLOG_TOPIC_RESOLVED": versions.resolved_topic(settings.topic_resolved, identity),
        }
        child = await asyncio.create_subprocess_exec(*TRIGGER_WORKER, "--exit-with-parent", env=env)
        exited = asyncio.create_task(child.wait())
        moved = asyncio.create_task(bootstrap.identity_moved(pool, identity, stop))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, moved, stopping}, return_when=asyncio.FIRST_COMPLETED)
        moved.cancel()
        stopping.cancel()
        if exited.done():
            if stop.is_set():
                return  # stopped with touchlog up (Ctrl-C reaches its process group)
            raise RuntimeError(f"the triggers worker exited with code {child.returncode}")
        child.terminate()
        try:
            await asyncio.wait_for(exited, timeout=30)
        except TimeoutError:
            child.kill()
            await exited
        if moved.done() and not moved.cancelled() and moved.exception():
            raise moved.exception()  # type: ignore[misc]  # the database stayed away
        if not stop.is_set():
            log.info("trigger_worker_restarted", identity=identity)


TRIGGER_WORKER = (sys.executable, "-m", "touchlog.cli", "triggers", "worker")


def _print_endpoints(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    session_tokens: dict[str, Caller],
    write_key: str | None,
) -> None:
    tokens = "".join(
        f"  {caller.role.value:<15} Authorization: Bearer {token}\n"
        for token, caller in session_tokens.items()
    )
    print(
        "touchlog is up\n"
        f"  API             http://{settings.api_host}:{settings.api_port}  (docs: /docs)\n"
        f"  Rep's screen    http://{settings.api_host}:{settings.api_port}/  (sign in: a token)\n"
        f"  Gateway         http://{settings.gateway_host}:{settings.gateway_port}"
        "  (docs: /docs; Segment-compatible)\n"
        + (
            f"  Write key       {write_key}  (demo-web-shop: userId = customer id; "
            f"curl -u '{write_key}:' …/v1/track)\n"
            if write_key
            else ""
        )
        + f"  Kafka bootstrap {endpoints.bootstrap_servers}"
        f"{'  (embedded Tansu, memory only)' if endpoints.embedded_broker else ''}\n"
        f"  DATABASE_URL    {endpoints.database_url}"
        f"{'  (embedded PostgreSQL)' if endpoints.embedded_postgres else ''}\n"
        + (
            "No API tokens configured (TOUCHLOG_API_TOKENS): tokens for this run only:\n" + tokens
            if tokens
            else ""
        )
        + "Stop with Ctrl-C.",
        flush=True,
    )


async def _demo_once(endpoints: bootstrap.Endpoints, settings: Settings, customers: int) -> None:
    """The demo, unless the log holds events already (a restart of ``make run``): published
    again, its events would be resolved anew against the graph they built, and land in the
    views a second time under the customers they were merged into."""
    held = await records_in(endpoints.bootstrap_servers, settings.topic_touchpoints)
    if held:
        print(
            f"demo: not published again: the log holds {held} events already "
            "(`touchlog reset` starts over)",
            flush=True,
        )
        return
    # Before the stages start: the resolver then reads the whole history in its order, not
    # the part of it that has arrived (see consumers/ordering.py).
    await publish_demo(endpoints, settings, customers)
