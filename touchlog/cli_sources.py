"""The HTTP gateway from the command line: its write keys, and serving it.

touchlog sources add SYSTEM --business-unit BU --channel CHANNEL   prints a new write key
touchlog sources list [--json]                                     keys by system (no secrets)
touchlog sources revoke KEY_ID                                     running gateways refuse it
touchlog gateway                                                   serve the gateway
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import asyncpg
import uvicorn

from events import Channel
from events.documents import DocumentError
from producers.gateway import sources
from projections.db import create_pool
from touchlog import bootstrap, config_files
from touchlog.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser(
        "sources", help="write keys of the channel systems that send through the HTTP gateway"
    )
    commands = group.add_subparsers(dest="sources_command", required=True, metavar="COMMAND")

    add_ = commands.add_parser("add", help="a new write key for a source system (printed once)")
    add_.add_argument("system", help="the sending system, e.g. web-shop")
    add_.add_argument("--business-unit", required=True, help="e.g. retail")
    add_.add_argument(
        "--channel",
        required=True,
        choices=[c.value for c in Channel],
        help="channel of its events unless an event says otherwise",
    )
    user_id = add_.add_mutually_exclusive_group()
    user_id.add_argument(
        "--user-id-type",
        help="external id type its Segment userIds are recorded as (default: the system name)",
    )
    user_id.add_argument(
        "--user-id-is-customer-id",
        action="store_true",
        help="its Segment userIds are touchlog customer ids",
    )
    add_.set_defaults(func=_command(add))

    listing = commands.add_parser("list", help="every write key: id, system, status")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(func=_command(list_sources))

    revoke_ = commands.add_parser("revoke", help="revoke a write key (by its id, or in full)")
    revoke_.add_argument("key", help="the key id shown by `sources list`, or the key itself")
    revoke_.set_defaults(func=_command(revoke))

    gateway = subparsers.add_parser(
        "gateway", help="serve the HTTP ingestion gateway (native and Segment-compatible)"
    )
    gateway.set_defaults(func=_on_uvloop(_command(serve_gateway)))


def _command(
    command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from touchlog.cli import _async  # the CLI's one way of running a command (a cycle)

        return _async(command)(args)

    return run


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


async def _pool(settings: Settings) -> asyncpg.Pool:
    pool = await create_pool(
        bootstrap.configured_endpoints(settings).database_url, min_size=1, max_size=2
    )
    await bootstrap.create_tables(pool)
    return pool


async def add(settings: Settings, args: argparse.Namespace) -> int:
    user_id_type = sources.USER_ID_AS_CUSTOMER_ID if args.user_id_is_customer_id else None
    pool = await _pool(settings)
    try:
        key, source = await sources.add(
            pool,
            args.system,
            args.business_unit,
            Channel(args.channel),
            args.user_id_type or user_id_type,
        )
    finally:
        await pool.close()
    print(key)
    print(
        f"write key {source.key_id}… for {source.system} ({source.business_unit}, "
        f"{source.channel.value}; userId as {source.user_id_type}). "
        "Shown once: only its hash is stored.",
        file=sys.stderr,
    )
    return 0


async def list_sources(settings: Settings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    try:
        records = await sources.listing(pool)
    finally:
        await pool.close()
    if args.json:
        rows = [
            {
                "key_id": r.source.key_id,
                "system": r.source.system,
                "business_unit": r.source.business_unit,
                "channel": r.source.channel.value,
                "user_id_type": r.source.user_id_type,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in records
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for r in records:
        status = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
        print(
            f"{r.source.key_id}  {r.source.system:<20} {r.source.business_unit:<12} "
            f"{r.source.channel.value:<6} userId→{r.source.user_id_type:<16} {status}"
        )
    if not records:
        print("no write keys yet: `touchlog sources add SYSTEM --business-unit BU --channel C`")
    return 0


async def revoke(settings: Settings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    try:
        revoked = await sources.revoke(pool, args.key)
    finally:
        await pool.close()
    if not revoked:
        print(f"touchlog: no active write key {args.key}", file=sys.stderr)
        return 1
    for source in revoked:
        print(f"revoked {source.key_id}… of {source.system}")
    return 0


async def serve_gateway(settings: Settings, args: argparse.Namespace) -> int:
    from producers.gateway import BUILTIN, GatewayConfig, create_gateway, read_rules

    endpoints = bootstrap.configured_endpoints(settings)
    mapping = settings.gateway_track_mapping
    try:
        rules = dict(BUILTIN) if mapping is None else config_files.load(mapping, read_rules)
    except DocumentError as exc:
        print(f"touchlog gateway: TOUCHLOG_GATEWAY_TRACK_MAPPING: {exc}", file=sys.stderr)
        return 2
    pool = await _pool(settings)  # the gateway's tables exist before it serves
    await pool.close()
    app = create_gateway(
        GatewayConfig(
            bootstrap_servers=endpoints.bootstrap_servers,
            database_url=endpoints.database_url,
            topic=settings.topic_touchpoints,
            idempotence=endpoints.idempotence,
            publish_timeout=settings.gateway_publish_timeout,
            retry_after=settings.gateway_retry_after,
            dedup_window=timedelta(days=settings.gateway_dedup_days),
            track_rules=rules,
        )
    )
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
