"""Blue/green rebuilds of the views (see touchlog/rebuilds.py and projections/versions.py).

touchlog projections list
touchlog projections status NAME
touchlog projections rebuild NAME [--switch] [--identity N] [--workers N]
touchlog projections switch NAME [--workers N]
touchlog projections compare identity [--version N]
touchlog projections drop-old NAME
"""

from __future__ import annotations

import argparse
import sys
import time

import asyncpg

from consumers.status import Stage, stage_status
from projections import versions
from touchlog import bootstrap, rebuild_workers, rebuilds
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
    rebuild.add_argument(
        "--identity",
        type=int,
        metavar="N",
        help="a view of resolved: read identity version N's topic (default: the newest "
        "identity version being rebuilt, else the live one)",
    )
    _workers_option(rebuild)
    rebuild.set_defaults(func=command(rebuild_view))
    switch = commands.add_parser(
        "switch", help="make the rebuilt version live, in one atomic switch"
    )
    switch.add_argument("name", help=f"the view: {names}")
    _workers_option(switch)
    switch.set_defaults(func=command(switch_view))
    compare = commands.add_parser(
        "compare",
        help="identity: does a rebuilt version hold the same customers, links, merges and "
        "splits as the live one (exit 1 if not)",
    )
    compare.add_argument("name", choices=["identity"], help="the view: identity")
    compare.add_argument(
        "--version", type=int, metavar="N", help="the version to compare (default: the newest)"
    )
    compare.set_defaults(func=command(compare_view))
    drop = commands.add_parser("drop-old", help="drop the tables of the retired versions")
    drop.add_argument("name", help=f"the view: {names}")
    drop.set_defaults(func=command(drop_old))


def _workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=_at_least_one,
        metavar="N",
        help="processes sharing the partitions (default: one per core, at most one per "
        "partition); identity is always rebuilt by one, as it reads every partition in one "
        "order",
    )


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number}: at least one process runs a rebuild")
    return number


async def list_views(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        found = await versions.versions(pool)
    lines = [f"{'view':15} {'version':>7}  {'state':9} {'since':19}  reads"]
    for v in found:
        since = v.live_since if v.state == "live" else v.retired_at or v.ready_at or v.created_at
        reads = (
            versions.resolved_topic(settings.topic_resolved, v.identity_version)
            if v.view in bootstrap.RESOLVED_VIEWS
            else f"{settings.topic_touchpoints} → "
            f"{versions.resolved_topic(settings.topic_resolved, v.version)}"
            if v.view == "identity"
            else ", ".join(rebuilds.topics(settings, v.view))
        )
        lines.append(f"{v.view:15} {v.version:>7}  {v.state:9} {since:%Y-%m-%d %H:%M:%S}  {reads}")
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
            for t in rebuilds.topics(settings, args.name, v.identity_version)
        ]
        statuses = await stage_status(
            pool, endpoints.bootstrap_servers, stages, security=endpoints.kafka_security
        )
    print(table(statuses))
    return 0


async def rebuild_view(settings: Settings, args: argparse.Namespace) -> int:
    return await _build(
        settings,
        args.name,
        switch=args.switch,
        resume=False,
        identity=args.identity,
        workers=args.workers,
    )


async def switch_view(settings: Settings, args: argparse.Namespace) -> int:
    return await _build(settings, args.name, switch=True, resume=True, workers=args.workers)


async def _build(
    settings: Settings,
    name: str,
    *,
    switch: bool,
    resume: bool,
    identity: int | None = None,
    workers: int | None = None,
) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    # A batch in flight per runner (identity switches with six views), the switch, the polls.
    async with database(settings, max_size=16) as pool:
        try:
            if resume:
                done = await rebuilds.switch(
                    settings, endpoints, pool, name, report=_Lines(), workers=workers
                )
            else:
                done = await rebuilds.rebuild(
                    settings,
                    endpoints,
                    pool,
                    name,
                    switch=switch,
                    report=_Lines(),
                    identity=identity,
                    workers=workers,
                )
        except (versions.VersionError, rebuild_workers.WorkerFailed) as exc:
            return fail(str(exc), 1)
    rate = done.events / done.seconds if done.seconds else 0.0
    print(
        f"{name} v{done.version}: {done.events} events in {done.seconds:.1f} s "
        f"({rate:,.0f} events/s)"
        + (", resumed" if done.resumed else "")
        + (f"; live now (v{done.switched_from} retired)" if done.switched_from else "; ready")
        + "".join(f", with {view} v{version}" for view, version in done.together)
    )
    return 0


async def compare_view(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        try:
            found = await rebuilds.compare_identity(settings, pool, args.version)
        except versions.VersionError as exc:
            return fail(str(exc), 1)
    print(
        f"identity v{found.live} (live) and v{found.other}: "
        f"{found.applied[0]:,} and {found.applied[1]:,} events applied"
        + ("" if found.applied[0] == found.applied[1] else " (not at the same offsets)")
    )
    for compared in found.tables:
        rows = f"{compared.rows[0]:,} / {compared.rows[1]:,} rows"
        state = "equal" if compared.equal else f"{compared.only_in[0]:,} only in v{found.live}, "
        if not compared.equal:
            state += f"{compared.only_in[1]:,} only in v{found.other}"
        print(f"  {compared.what:12} {rows:>24}  {state}")
        for example in compared.examples:
            print(f"      {example}")
    print("equal" if found.equal else "different")
    return 0 if found.equal else 1


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
