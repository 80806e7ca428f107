"""Blue/green rebuilds of the views (see touchlog/rebuilds.py and projections/versions.py).

touchlog projections list
touchlog projections status NAME
touchlog projections rebuild NAME [--switch]
touchlog projections switch NAME
touchlog projections drop-old NAME
"""

from __future__ import annotations

import argparse
import sys
import time

import asyncpg

from consumers.status import Stage, stage_status
from projections import versions
from touchlog import bootstrap, rebuilds
from touchlog.cli_common import Subparsers, command, database, fail
from touchlog.cli_status import table
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    projections = sub.add_parser(
        "projections", help="list the views' versions, rebuild one from offset 0, switch it live"
    )
    commands = projections.add_subparsers(
        dest="projections_command", required=True, metavar="COMMAND"
    )
    names = ", ".join(bootstrap.VERSIONED)
    listing = commands.add_parser("list", help="every view, its live version and the others")
    listing.set_defaults(func=command(list_views))
    status = commands.add_parser("status", help="each version of a view: offsets, end, lag")
    status.add_argument("name", help=f"the view: {names}")
    status.set_defaults(func=command(view_status))
    rebuild = commands.add_parser(
        "rebuild",
        help="build a new version from offset 0 beside the live one (resumes one begun)",
    )
    rebuild.add_argument("name", help=f"the view: {names}")
    rebuild.add_argument("--switch", action="store_true", help="make it live once caught up")
    rebuild.set_defaults(func=command(rebuild_view))
    switch = commands.add_parser(
        "switch", help="make the rebuilt version live, in one atomic switch"
    )
    switch.add_argument("name", help=f"the view: {names}")
    switch.set_defaults(func=command(switch_view))
    drop = commands.add_parser("drop-old", help="drop the tables of the retired versions")
    drop.add_argument("name", help=f"the view: {names}")
    drop.set_defaults(func=command(drop_old))


async def list_views(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        found = await versions.versions(pool)
    lines = [f"{'view':10} {'version':>7}  {'state':9} since"]
    for v in found:
        since = v.live_since if v.state == "live" else v.retired_at or v.ready_at or v.created_at
        lines.append(f"{v.view:10} {v.version:>7}  {v.state:9} {since:%Y-%m-%d %H:%M:%S}")
    print("\n".join(lines))
    return 0


async def view_status(settings: Settings, args: argparse.Namespace) -> int:
    if args.name not in bootstrap.VERSIONED:
        return fail(f"no view named {args.name!r}; views: {', '.join(bootstrap.VERSIONED)}")
    endpoints = bootstrap.configured_endpoints(settings)
    name = bootstrap.VERSIONED[args.name].name
    async with database(settings) as pool:
        found = await versions.versions(pool, args.name)
        stages = [
            Stage(f"{args.name} v{v.version} ({v.state})", versions.consumer(name, v.version), t)
            for v in found
            for t in rebuilds.topics(settings, args.name)
        ]
        statuses = await stage_status(
            pool, endpoints.bootstrap_servers, stages, security=endpoints.kafka_security
        )
    print(table(statuses))
    return 0


async def rebuild_view(settings: Settings, args: argparse.Namespace) -> int:
    return await _build(settings, args.name, switch=args.switch, resume=False)


async def switch_view(settings: Settings, args: argparse.Namespace) -> int:
    return await _build(settings, args.name, switch=True, resume=True)


async def _build(settings: Settings, name: str, *, switch: bool, resume: bool) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    async with database(settings, max_size=8) as pool:
        try:
            if resume:
                done = await rebuilds.switch(settings, endpoints, pool, name, report=_Lines())
            else:
                done = await rebuilds.rebuild(
                    settings, endpoints, pool, name, switch=switch, report=_Lines()
                )
        except versions.VersionError as exc:
            return fail(str(exc), 1)
    rate = done.events / done.seconds if done.seconds else 0.0
    print(
        f"{name} v{done.version}: {done.events} events in {done.seconds:.1f} s "
        f"({rate:,.0f} events/s)"
        + (", resumed" if done.resumed else "")
        + (f"; live now (v{done.switched_from} retired)" if done.switched_from else "; ready")
    )
    return 0


async def drop_old(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        retired = [v for v in await versions.versions(pool, args.name) if v.state == "retired"]
        if not retired:
            print(f"{args.name}: no retired version to drop")
            return 0
        await _drop(pool, args.name, [v.version for v in retired])
    print(f"{args.name}: dropped v{', v'.join(str(v.version) for v in retired)}")
    return 0


async def _drop(pool: asyncpg.Pool, view: str, numbers: list[int]) -> None:
    name = bootstrap.VERSIONED[view].name
    async with pool.acquire() as conn:
        for number in numbers:
            await versions.drop_version(conn, view, number, versions.consumer(name, number))


class _Lines:
    """Progress as a line per second on stderr: applied, end of the log, rate, lag."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, progress: rebuilds.Progress) -> None:
        now = time.monotonic()
        if now - self.last < 1.0:
            return
        self.last = now
        print(
            f"{progress.view} v{progress.version}: {progress.applied:,}/{progress.end:,} "
            f"events, {progress.rate:,.0f}/s, lag {progress.lag:,}",
            file=sys.stderr,
            flush=True,
        )
