"""Sending events from the command line: the demo sample, or a JSONL file.

touchlog demo [--customers N]     a realistic sample, to a running touchlog
touchlog publish FILE.jsonl       every event of the file, each validated first
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, publisher
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    demo = sub.add_parser("demo", help="Publish a realistic sample to a running touchlog.")
    demo.add_argument("--customers", type=int, default=300)
    demo.set_defaults(func=command(_demo))

    publish = sub.add_parser("publish", help="Publish the events of a JSONL file.")
    publish.add_argument("file", type=Path)
    publish.set_defaults(func=command(_publish))


async def publish_demo(endpoints: bootstrap.Endpoints, settings: Settings, customers: int) -> None:
    from producers.demo import demo_events

    events = demo_events(customers)
    async with publisher(settings, endpoints) as sink:
        # In story order across customers too: the resolver then reads the history as told.
        receipts = await sink.publish_many(events, in_order=True)
    keys = sorted({e.subject.key() for e in events})
    print(
        f"demo: published {len(receipts)} events about {customers} customers, e.g. "
        f"GET /customers/{keys[0]}/timeline",
        flush=True,
    )


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    await publish_demo(bootstrap.configured_endpoints(settings), settings, args.customers)
    return 0


async def _publish(settings: Settings, args: argparse.Namespace) -> int:
    from producers.jsonl import publish_file

    path: Path = args.file
    if not path.is_file():  # noqa: ASYNC240  # one stat before any work starts
        print(f"touchlog publish: no such file: {path}", file=sys.stderr)
        return 2
    async with publisher(settings) as sink:
        report = await publish_file(path, sink)
    for rejected in report.rejected:
        print(f"{path}:{rejected}", file=sys.stderr)
    print(f"accepted {report.accepted}, rejected {len(report.rejected)}")
    return 1 if report.rejected else 0
