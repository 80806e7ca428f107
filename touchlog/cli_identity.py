"""Identity decisions from the command line: the report, and a person's confirm, reject
and split, each published as an event the resolver applies (so a rebuild keeps it).

touchlog identity report [--json]          merges made, suspected duplicates
touchlog identity confirm A B --by NAME    one person: publishes customer.merged
touchlog identity reject A B --by NAME     different people: publishes customer.merge_rejected
touchlog identity split ORIGINAL NEW --by NAME   undo a wrong merge: publishes customer.split
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg

from events import Touchpoint
from events.touchpoints.identity import CustomerMerged, CustomerMergeRejected, CustomerSplit
from projections.identity import report
from projections.identity.decision_events import Decided
from projections.identity.decisions import IdentityDecisions
from projections.identity.postgres import StoredGraph
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, aware, command, fail, publisher
from touchlog.settings import Settings

E = TypeVar("E", bound=Touchpoint)


def register(subparsers: Subparsers) -> None:
    identity = subparsers.add_parser(
        "identity", help="identity report: merges made, suspected duplicates to decide"
    )
    commands = identity.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("report", help="merges made and suspected duplicates")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(func=command(show_report))

    confirm_ = _decision(commands, "confirm", "two customers are one person: merge them")
    confirm_.add_argument("customer")
    confirm_.add_argument("other")
    confirm_.add_argument("--reason", default="confirmed duplicate")
    confirm_.add_argument("--survivor", help="the customer to keep (default: the older of the two)")
    confirm_.set_defaults(func=command(confirm))

    split_ = _decision(
        commands, "split", "undo a wrong merge: NEW takes identifiers back from ORIGINAL"
    )
    split_.add_argument("original", help="the surviving customer of the wrong merge")
    split_.add_argument("new", help="the customer merged into it by mistake, or a new id")
    split_.add_argument(
        "--identifier",
        action="append",
        default=[],
        metavar="KEY",
        help="identifier to move, e.g. email:ann@x.com or phone:+33628230455 (repeatable); "
        "default: those NEW held before the merge",
    )
    split_.add_argument("--reason", default="not the same person")
    split_.set_defaults(func=command(split))

    reject_ = _decision(commands, "reject", "two customers are different people")
    reject_.add_argument("customer")
    reject_.add_argument("other")
    reject_.add_argument("--reason")
    reject_.set_defaults(func=command(reject))


def _decision(commands: Subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """A decision's command: who decided, and when."""
    parser = commands.add_parser(name, help=help)
    parser.add_argument("--by", required=True, help="who decided")
    parser.add_argument(
        "--at", type=aware, help="when it was decided, ISO 8601 with offset (default: now)"
    )
    return parser


def _decided(args: argparse.Namespace) -> Decided:
    """Who decided, and when: the moment the person decided unless ``--at`` says."""
    return Decided(by=args.by, at=args.at or datetime.now(UTC), reason=args.reason)


@contextlib.asynccontextmanager
async def _graph(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(bootstrap.configured_endpoints(settings).database_url)
    try:
        if not await report.ready(conn):
            raise SystemExit(
                "touchlog: no identity graph or timeline in this database yet; "
                "run `touchlog init` (or `touchlog up`) first"
            )
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _decisions(settings: Settings) -> AsyncIterator[IdentityDecisions]:
    async with (
        _graph(settings) as conn,
        publisher(settings, client_id="touchlog-identity") as sink,
    ):
        yield IdentityDecisions(StoredGraph(conn), sink.publish)


async def show_report(settings: Settings, args: argparse.Namespace) -> int:
    async with _graph(settings) as conn:
        found = await report.identity_report(conn)
    if args.json:
        print(json.dumps(found.as_json(), indent=2))
        return 0
    print(f"Merges made: {len(found.merges)}")
    for m in found.merges:
        undone = "" if m.in_effect else "  (undone by a split)"
        print(
            f"  {m.merged_at:%Y-%m-%d %H:%M}  {m.merged} into {m.survivor}{undone}\n    {m.reason}"
        )
    suspected = found.suspected_duplicates
    print(f"Suspected duplicates (same name and postcode, not merged): {len(suspected)}")
    for s in suspected:
        print(f"  {s.customer} {s.other}  {s.name}, {s.postal_code} {s.country}")
        for customer, identifiers in s.identifiers.items():
            print(f"    {customer}: {', '.join(identifiers) or '(no identifiers)'}")
    if suspected:
        print(
            "Decide with: touchlog identity confirm|reject CUSTOMER OTHER --by NAME",
            file=sys.stderr,
        )
    shared = found.shared_identifiers
    print(f"Shared identifiers found (matching nobody; confirm in shared_numbers): {len(shared)}")
    for sh in shared:
        print(f"  {sh.identifier}  {len(sh.customers)} customers: {', '.join(sh.customers)}")
        print(f"    {sh.reason} (event {sh.message_id}, {sh.detected_at:%Y-%m-%d %H:%M})")
    return 0


async def _decide(
    settings: Settings,
    args: argparse.Namespace,
    decide: Callable[[IdentityDecisions, argparse.Namespace], Awaitable[E]],
    said: Callable[[E], str],
) -> int:
    """Make the decision and say what was published, or why not."""
    try:
        async with _decisions(settings) as decisions:
            event = await decide(decisions, args)
    except (LookupError, ValueError) as exc:
        return fail(f"identity {args.identity_command}: {exc}")
    print(f"{said(event)}: published {event.type} {event.message_id}")
    return 0


async def confirm(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, _confirm, _merging)


async def reject(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, _reject, _kept_apart)


async def split(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, _split, _splitting)


async def _confirm(decisions: IdentityDecisions, args: argparse.Namespace) -> CustomerMerged:
    return await decisions.confirm(args.customer, args.other, _decided(args), args.survivor)


async def _reject(decisions: IdentityDecisions, args: argparse.Namespace) -> CustomerMergeRejected:
    return await decisions.reject(args.customer, args.other, _decided(args))


async def _split(decisions: IdentityDecisions, args: argparse.Namespace) -> CustomerSplit:
    return await decisions.split(args.original, args.new, _decided(args), args.identifier)


def _merging(event: CustomerMerged) -> str:
    p = event.payload
    return f"merging {', '.join(p.merged_customer_ids)} into {p.surviving_customer_id}"


def _kept_apart(event: CustomerMergeRejected) -> str:
    p = event.payload
    return f"{p.customer_id} and {p.other_customer_id} are different people"


def _splitting(event: CustomerSplit) -> str:
    p = event.payload
    moved = ", ".join(str(i) for i in p.identifiers_moved)
    return f"splitting {p.new_customer_id} from {p.original_customer_id} ({moved})"
