"""``touchlog sources``: the write keys of the systems that send through the HTTP gateway.

touchlog sources add SYSTEM --business-unit BU --channel CHANNEL   prints a new write key
touchlog sources list [--json]                                     keys by system (no secrets)
touchlog sources revoke KEY_ID                                     running gateways refuse it
"""

from __future__ import annotations

import argparse
import json
import sys

from events import Channel
from producers.gateway import sources
from touchlog.cli_common import Subparsers, command, database
from touchlog.settings import Settings


def register(subparsers: Subparsers) -> None:
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
    add_.set_defaults(func=command(add))

    listing = commands.add_parser("list", help="every write key: id, system, status")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(func=command(list_sources))

    revoke_ = commands.add_parser("revoke", help="revoke a write key (by its id, or in full)")
    revoke_.add_argument("key", help="the key id shown by `sources list`, or the key itself")
    revoke_.set_defaults(func=command(revoke))


async def add(settings: Settings, args: argparse.Namespace) -> int:
    user_id_type = sources.USER_ID_AS_CUSTOMER_ID if args.user_id_is_customer_id else None
    async with database(settings) as pool:
        key, source = await sources.add(
            pool,
            args.system,
            args.business_unit,
            Channel(args.channel),
            args.user_id_type or user_id_type,
        )
    print(key)
    print(
        f"write key {source.key_id}… for {source.system} ({source.business_unit}, "
        f"{source.channel.value}; userId as {source.user_id_type}). "
        "Shown once: only its hash is stored.",
        file=sys.stderr,
    )
    return 0


async def list_sources(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        records = await sources.listing(pool)
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
    async with database(settings) as pool:
        revoked = await sources.revoke(pool, args.key)
    if not revoked:
        print(f"touchlog: no active write key {args.key}", file=sys.stderr)
        return 1
    for source in revoked:
        print(f"revoked {source.key_id}… of {source.system}")
    return 0
