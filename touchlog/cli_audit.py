"""``touchlog audit``: the data inventory on the command line (what each source system and
business unit sent, with its tiers, counts, first and last seen and consent coverage, and
who read service or restricted data), as text or JSON; the same report as ``GET
/audit/data``.

touchlog audit [--json]
"""

from __future__ import annotations

import argparse

from api.data_inventory import as_text, inventory
from touchlog.cli_common import Subparsers, command, database
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    audit = sub.add_parser(
        "audit",
        help="The data inventory: what each source collects (fields and tiers), counts, "
        "consent coverage, and who read service or restricted data.",
    )
    audit.add_argument("--json", action="store_true", help="One JSON document.")
    audit.set_defaults(func=command(show_inventory))


async def show_inventory(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        report = await inventory(pool)
    print(report.model_dump_json(indent=2) if args.json else as_text(report))
    return 0
