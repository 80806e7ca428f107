"""Sending events from the command line: the demo sample, or a JSONL file.

touchlog demo [--customers N]     a realistic sample, to a running touchlog
touchlog demo --years N           N years of history with trends planted for analytics
touchlog publish FILE.jsonl       every event of the file, each validated first
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import TYPE_CHECKING, cast

from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, publisher
from touchlog.settings import Settings

if TYPE_CHECKING:
    from events import Touchpoint
    from producers import Publisher
    from producers.legacy.progress import ProgressDisplay


def register(sub: Subparsers) -> None:
    demo = sub.add_parser("demo", help="Publish a realistic sample to a running touchlog.")
    demo.add_argument("--customers", type=int, default=300)
    demo.add_argument(
        "--years",
        type=int,
        default=None,
        help="Instead: the year to date and N years before it, trends planted for analytics.",
    )
    demo.set_defaults(func=command(_demo))

    publish = sub.add_parser("publish", help="Publish the events of a JSONL file.")
    publish.add_argument("file", type=Path)
    publish.set_defaults(func=command(_publish))


async def publish_demo(endpoints: bootstrap.Endpoints, settings: Settings, customers: int) -> None:
    from producers.demo import SHOWCASE, demo_events

    events = demo_events(customers, region=settings.default_region)
    async with publisher(settings, endpoints) as sink:
        # In story order across customers too: the resolver then reads the history as told.
        receipts = await sink.publish_many(events, in_order=True)
    print(
        f"demo: published {len(receipts)} events about {customers} customers, e.g. "
        f"GET /customers/{SHOWCASE}/timeline",
        flush=True,
    )


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    if args.years is not None:
        from touchlog.cli_demo_history import publish_history

        endpoints = bootstrap.configured_endpoints(settings)
        await publish_history(endpoints, settings, args.customers, args.years)
        return 0
    await publish_demo(bootstrap.configured_endpoints(settings), settings, args.customers)
    return 0


class _Counted:
    """The publisher, moving the progress bar as each chunk is acknowledged."""

    def __init__(self, sink: Publisher, progress: ProgressDisplay) -> None:
        self.sink, self.progress, self.done = sink, progress, 0

    async def publish_many(self, events: Iterable[Touchpoint]) -> Sized:
        receipts = await self.sink.publish_many(events)
        self.done += len(receipts)
        self.progress.update(self.done, "acknowledged")
        return receipts


async def _publish(settings: Settings, args: argparse.Namespace) -> int:
    from producers.jsonl import publish_file

    path: Path = args.file
    if not path.is_file():  # noqa: ASYNC240  # one stat before any work starts
        print(f"touchlog publish: no such file: {path}", file=sys.stderr)
        return 2
    from producers.legacy.progress import ProgressDisplay

    with path.open("rb") as data:  # one pass to size the bar
        total = sum(1 for line in data if line.strip())
    progress = ProgressDisplay(sys.stderr, path.name, total, "event", every=1)
    async with publisher(settings) as sink:
        counted = _Counted(sink, progress)
        # publish_file only calls publish_many, which _Counted passes on.
        report = await publish_file(path, cast("Publisher", counted))
    progress.close(counted.done, f"accepted {report.accepted}, rejected {len(report.rejected)}")
    for rejected in report.rejected:
        print(f"{path}:{rejected}", file=sys.stderr)
    print(f"accepted {report.accepted}, rejected {len(report.rejected)}")
    return 1 if report.rejected else 0
