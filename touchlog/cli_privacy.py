"""Data-subject requests and retention (docs/PRIVACY.md).

touchlog erase ID --reason TEXT [--by NAME]   shred a customer's keys, purge their data
touchlog export ID [--reason TEXT]            everything known about a customer, as JSON
touchlog retention run                        shred expired keys, anonymise old rows
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from privacy.erasure import Erasure, Publish, UnknownCustomer, receipt_text
from privacy.export import export
from privacy.keys import PostgresKeyStore
from privacy.log_history import identity_history
from privacy.retention_sweep import Swept, sweep
from privacy.runtime import SealingConfig, forget_all, keys_for
from privacy.stores import UnclassifiedTables
from projections import versions
from projections.db import DATABASE_UNAVAILABLE
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, database, fail, publisher
from touchlog.settings import Settings

log = structlog.get_logger()

SWEEP_EVERY = timedelta(hours=1)
"""How often ``touchlog up`` runs the retention sweep."""


def register(sub: Subparsers) -> None:
    erase = sub.add_parser(
        "erase",
        help="Erase a customer: shred their data keys, purge or anonymise their personal "
        "data in every table, publish customer.erased, print the receipt.",
    )
    erase.add_argument("customer_id", help="the customer (merged customers are erased too)")
    erase.add_argument("--reason", required=True, help="why (kept in the receipt and the audit)")
    erase.add_argument("--by", default=None, help="who asks (default: the login name)")
    erase.add_argument("--json", action="store_true", help="print the receipt as JSON")
    erase.set_defaults(func=command(_erase))

    exporting = sub.add_parser(
        "export", help="Everything known about a customer, as JSON (an audited read)."
    )
    exporting.add_argument("customer_id")
    exporting.add_argument("--reason", default=None, help="why (kept in the access audit)")
    exporting.add_argument("--by", default=None, help="who asks (default: the login name)")
    exporting.set_defaults(func=command(_export))

    retention = sub.add_parser("retention", help="personal data past its retention period")
    commands = retention.add_subparsers(dest="retention_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="shred expired data keys and anonymise read-model rows past their period"
    )
    run.set_defaults(func=command(_retention_run))


def erasure(settings: Settings, publish: Publish | None) -> Erasure:
    """The erasure of this process: the master key from settings, ``customer.erased`` sent
    through ``publish``, the receipt naming every topic."""
    return Erasure(
        SealingConfig.of(settings).master,
        publish=publish,
        topics=settings.topics(),
        key_cache_seconds=settings.key_cache_seconds,
        forget=forget_all,  # touchlog up: the stages beside the API hold keys too
    )


def export_history(
    settings: Settings,
) -> Callable[[Sequence[str], asyncpg.Pool], Awaitable[list[dict[str, Any]]]]:
    """Reads a customer's identity events from ``touchlog.resolved`` (the live identity
    version's topic), opened with the process's keys on ``pool`` (the export's ``history``)."""

    async def read(ids: Sequence[str], pool: asyncpg.Pool) -> list[dict[str, Any]]:
        endpoints = bootstrap.configured_endpoints(settings)
        live = await versions.live_version(pool, "identity")
        return await identity_history(
            endpoints.bootstrap_servers,
            versions.resolved_topic(settings.topic_resolved, live),
            ids,
            keys_for(settings, pool).opener,
            security=endpoints.kafka_security,
        )

    return read


def _who(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


@contextlib.asynccontextmanager
async def _publishing(settings: Settings) -> AsyncIterator[Publish]:
    sending = publisher(settings, client_id="touchlog-erasure")
    await sending.start()
    try:
        yield sending.publish
    finally:
        await sending.stop()


async def _erase(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool, _publishing(settings) as publish:
        try:
            receipt = await erasure(settings, publish).erase(
                pool, args.customer_id, reason=args.reason, who=_who(args.by), role="manager"
            )
        except (ValueError, UnknownCustomer, UnclassifiedTables) as exc:
            return fail(str(exc), 1)
    print(json.dumps(receipt.as_json(), indent=2) if args.json else receipt_text(receipt))
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    read = export_history(settings)
    async with database(settings) as pool, pool.acquire() as conn:
        try:
            document = await export(
                conn,
                args.customer_id,
                who=_who(args.by),
                role="manager",
                reason=args.reason,
                history=lambda ids: read(ids, pool),
            )
        except UnknownCustomer as exc:
            return fail(str(exc), 1)
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


async def run_retention(settings: Settings, pool: asyncpg.Pool) -> Swept:
    config = SealingConfig.of(settings)
    return await sweep(
        pool, PostgresKeyStore(pool, config.master), config.retention, datetime.now(UTC)
    )


async def _retention_run(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        try:
            swept = await run_retention(settings, pool)
        except UnclassifiedTables as exc:
            return fail(str(exc), 1)
    print(f"{swept.keys_shredded} expired data keys shredded")
    for table, count in swept.rows.items():
        print(f"  {table}: {count} rows")
    return 0


async def retention_every(
    settings: Settings, pool: asyncpg.Pool, stop: asyncio.Event, every: timedelta = SWEEP_EVERY
) -> None:
    """``touchlog up``: the retention sweep now, then every ``every`` until ``stop``."""
    while not stop.is_set():
        try:
            await run_retention(settings, pool)
        except UnclassifiedTables as exc:
            log.warning("retention_refused", error=str(exc))
        except DATABASE_UNAVAILABLE as exc:  # the next sweep retries; `up` goes on
            log.warning("retention_postponed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
