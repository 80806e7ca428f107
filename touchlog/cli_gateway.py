"""``touchlog gateway``: serve the HTTP ingestion gateway (native and Segment-compatible)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

import uvicorn

from events.documents import DocumentError
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, create_tables
from touchlog.settings import Settings


def register(subparsers: Subparsers) -> None:
    gateway = subparsers.add_parser(
        "gateway", help="serve the HTTP ingestion gateway (native and Segment-compatible)"
    )
    gateway.set_defaults(func=_on_uvloop(command(serve_gateway)))


def _on_uvloop(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Serve on uvloop where it is installed: HTTP and Kafka I/O cost the gateway less."""

    def on_uvloop(args: argparse.Namespace) -> int:
        try:
            import uvloop
        except ImportError:  # Windows: no uvloop
            return run(args)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return run(args)

    return on_uvloop


async def serve_gateway(settings: Settings, args: argparse.Namespace) -> int:
    from producers.gateway import create_gateway

    endpoints = bootstrap.configured_endpoints(settings)
    try:
        gateway = bootstrap.gateway_config(settings, endpoints)
    except DocumentError as exc:
        print(f"touchlog gateway: TOUCHLOG_GATEWAY_TRACK_MAPPING: {exc}", file=sys.stderr)
        return 2
    await create_tables(settings)  # the gateway's tables exist before it serves
    app = create_gateway(gateway)
    print(
        f"touchlog gateway on http://{settings.gateway_host}:{settings.gateway_port} "
        f"(docs: /docs) → {settings.topic_touchpoints} at {endpoints.bootstrap_servers}",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
    )
    await uvicorn.Server(config).serve()
    return 0
