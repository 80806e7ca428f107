"""``touchlog audiences``: check an audiences file; list who took which member list."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from events.documents import DocumentError
from projections.audiences import parse_audiences, queries
from touchlog import config_files
from touchlog.cli_common import Subparsers, command, database
from touchlog.settings import Settings


def _check(args: argparse.Namespace) -> int:
    try:
        audiences = config_files.load(args.file, parse_audiences)
    except DocumentError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for audience in audiences.audiences:
        rules = ", ".join(sorted(audience.when.model_dump(exclude_none=True))) or "everyone"
        print(f"{audience.name:<32} {','.join(audience.channels):<20} {rules}")
    print(
        f"{args.file}: {len(audiences.audiences)} audiences, valid "
        f"(fingerprint {audiences.fingerprint()})"
    )
    return 0


async def _takes(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        taken = await queries.lists_taken(pool, args.audience)
    if args.json:
        print(json.dumps(taken, default=str, indent=2))
        return 0
    for t in taken:
        print(
            f"{t['at']:%Y-%m-%d %H:%M:%S}  {t['who']:<24} {t['role']:<10} {t['audience']:<24} "
            f"{t['channel']:<6} {t['format']:<5} {t['customers']:>8}"
        )
    return 0


def register(sub: Subparsers) -> None:
    audiences = sub.add_parser(
        "audiences", help="Audiences: check a definitions file, list the member lists taken."
    )
    commands = audiences.add_subparsers(dest="audiences_command", required=True)
    check = commands.add_parser(
        "check", help="Validate an audiences file (every mistake by its path) and list them."
    )
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)
    takes = commands.add_parser(
        "takes", help="Who took which member list, when, on which channel, how many customers."
    )
    takes.add_argument("--audience", help="Only this audience's.")
    takes.add_argument("--json", action="store_true", help="One JSON document.")
    takes.set_defaults(func=command(_takes))
