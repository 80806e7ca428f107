"""``touchlog`` command line: run the system, publish events, inspect contracts."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from fastapi import FastAPI

from consumers.log_check import StoredOffsetsBeyondLog
from consumers.process import tune_gc
from projections.db import create_pool
from touchlog import bootstrap, cli_identity, cli_reset, cli_schemas, cli_sources, cli_triggers
from touchlog.http_server import EmbeddedServer
from touchlog.kafka_admin import ensure_topics
from touchlog.log_tail import records_in
from touchlog.logs import configure_logging
from touchlog.settings import Settings

if TYPE_CHECKING:
    from api.auth import Caller

log = structlog.get_logger()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _up(settings: Settings, args: argparse.Namespace) -> int:
    from api import create_app

    stop = asyncio.Event()
    async with bootstrap.infrastructure(settings, stop=stop) as endpoints:
        pool = await create_pool(endpoints.database_url, min_size=1, max_size=4)
        try:
            await bootstrap.create_tables(pool)
            tokens = bootstrap.api_tokens(settings)
            demo_tokens = {} if tokens else bootstrap.session_tokens()
            server = EmbeddedServer(
                _api_config(
                    settings,
                    create_app(
                        endpoints.database_url,
                        bootstrap.identity_rules(settings),
                        tokens or demo_tokens,
                    ),
                )
            )
            _stop_on_signals(stop)
            tasks = {
                asyncio.create_task(server.serve(), name="api"),
                asyncio.create_task(_trigger_worker(settings, endpoints, stop), name="triggers"),
                stopping := asyncio.create_task(stop.wait(), name="signal"),
            }
            ready = asyncio.create_task(server.ready.wait())
            await asyncio.wait({ready, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if server.started:
                _print_endpoints(settings, endpoints, demo_tokens)
                if args.demo:
                    await _demo_once(endpoints, settings, args.customers)
            tasks.add(
                asyncio.create_task(
                    bootstrap.run_stages(settings, endpoints, pool, stop), name="stages"
                )
            )
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            server.should_exit = True
            await asyncio.gather(*tasks)  # re-raises what ended a component early
            return 0 if stopping in done else 1
        finally:
            await pool.close()


async def _trigger_worker(
    settings: Settings, endpoints: bootstrap.Endpoints, stop: asyncio.Event
) -> None:
    """The faust triggers app, as a child process (faust runs its own event loop and
    signal handling) on the same broker; stopped with ``touchlog up``."""
    env = os.environ | {
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "TOUCHLOG_DATA_DIR": str(settings.data_dir),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "touchlog.cli", "triggers", "worker", "--exit-with-parent", env=env
    )
    exited = asyncio.create_task(child.wait())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not exited.done():
        child.terminate()
        try:
            await asyncio.wait_for(exited, timeout=30)
        except TimeoutError:
            child.kill()
            await exited
        stopping.cancel()
        return
    stopping.cancel()
    raise RuntimeError(f"the triggers worker exited with code {child.returncode}")


def _api_config(settings: Settings, app: FastAPI) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False
    )


def _print_endpoints(
    settings: Settings, endpoints: bootstrap.Endpoints, session_tokens: dict[str, Caller]
) -> None:
    tokens = "".join(
        f"  {caller.role.value:<15} Authorization: Bearer {token}\n"
        for token, caller in session_tokens.items()
    )
    print(
        "touchlog is up\n"
        f"  API             http://{settings.api_host}:{settings.api_port}  (docs: /docs)\n"
        f"  Kafka bootstrap {endpoints.bootstrap_servers}"
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
    await _publish_demo(endpoints, settings, customers)


async def _publish_demo(endpoints: bootstrap.Endpoints, settings: Settings, customers: int) -> None:
    from producers import Publisher
    from producers.demo import demo_events

    events = demo_events(customers)
    async with Publisher(
        endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
    ) as publisher:
        # In story order across customers too: the resolver then reads the history as told.
        receipts = await publisher.publish_many(events, in_order=True)
    keys = sorted({e.subject.key() for e in events})
    print(
        f"demo: published {len(receipts)} events about {customers} customers, e.g. "
        f"GET /customers/{keys[0]}/timeline",
        flush=True,
    )


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    await _publish_demo(bootstrap.configured_endpoints(settings), settings, args.customers)
    return 0


async def _publish(settings: Settings, args: argparse.Namespace) -> int:
    from producers import Publisher
    from producers.jsonl import publish_file

    path: Path = args.file
    if not path.is_file():  # noqa: ASYNC240  # one stat before any work starts
        print(f"touchlog publish: no such file: {path}", file=sys.stderr)
        return 2
    endpoints = bootstrap.configured_endpoints(settings)
    async with Publisher(
        endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
    ) as publisher:
        report = await publish_file(path, publisher)
    for rejected in report.rejected:
        print(f"{path}:{rejected}", file=sys.stderr)
    print(f"accepted {report.accepted}, rejected {len(report.rejected)}")
    return 1 if report.rejected else 0


async def _runner(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    pool = await create_pool(endpoints.database_url, min_size=1, max_size=2)
    try:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        partitions = [int(p) for p in args.partitions.split(",")] if args.partitions else None
        stages = bootstrap.STAGES if args.stage == "all" else (args.stage,)
        await bootstrap.run_stages(settings, endpoints, pool, stop, stages, partitions)
    finally:
        await pool.close()
    return 0


async def _api(settings: Settings, args: argparse.Namespace) -> int:
    from api import create_app

    endpoints = bootstrap.configured_endpoints(settings)
    await uvicorn.Server(
        _api_config(
            settings,
            create_app(
                endpoints.database_url,
                bootstrap.identity_rules(settings),
                bootstrap.api_tokens(settings),
            ),
        )
    ).serve()
    return 0


async def _init(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    await ensure_topics(
        endpoints.bootstrap_servers,
        settings.topics(),
        settings.partitions,
        settings.replication_factor,
    )
    pool = await create_pool(endpoints.database_url, min_size=1, max_size=1)
    try:
        await bootstrap.create_tables(pool)
    finally:
        await pool.close()
    print("topics and tables are ready")
    return 0


Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _async(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        settings = Settings()
        configure_logging(settings.log_format, settings.log_level)
        tune_gc()
        return asyncio.run(command(settings, args))

    return run


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="touchlog", description="Event-sourced customer interaction log."
    )
    sub = root.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up",
        help="Start broker, PostgreSQL (embedded unless configured), "
        "the projection runner and the API.",
    )
    up.add_argument("--demo", action="store_true", help="Publish the demo sample once up.")
    up.add_argument("--customers", type=int, default=300, help="Demo customers (default 300).")
    up.set_defaults(func=_async(_up))

    demo = sub.add_parser("demo", help="Publish a realistic sample to a running touchlog.")
    demo.add_argument("--customers", type=int, default=300)
    demo.set_defaults(func=_async(_demo))

    publish = sub.add_parser("publish", help="Publish the events of a JSONL file.")
    publish.add_argument("file", type=Path)
    publish.set_defaults(func=_async(_publish))

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
    runner.set_defaults(func=_async(_runner))

    init = sub.add_parser("init", help="Create topics and tables on the configured services.")
    init.set_defaults(func=_async(_init))

    api = sub.add_parser("api", help="Serve the HTTP API only.")
    api.set_defaults(func=_async(_api))

    cli_schemas.register(sub)
    cli_identity.register(sub)
    cli_sources.register(sub)
    cli_triggers.register(sub)
    cli_reset.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `touchlog schemas list | head`: the reader had enough
        sys.stderr.close()
        return 0
    except StoredOffsetsBeyondLog as exc:  # says what happened and the command that fixes it
        print(f"touchlog: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
