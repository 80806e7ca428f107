"""``touchlog analytics REPORT``: the managers' analytics on the command line, as a table,
JSON or CSV.

touchlog analytics year-on-year [--since DATE] [--until DATE] [--csv FILE|-] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from projections.metrics.queries import SEASONAL_MEASURES, Row
from projections.metrics.readers import Analytics, Ask, Report, to_csv
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, database
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    analytics = sub.add_parser(
        "analytics",
        help="Managers' analytics from the metrics rollups: "
        + ", ".join(r.value for r in Report)
        + ".",
    )
    analytics.add_argument("report", choices=[r.value for r in Report])
    analytics.add_argument("--since", type=date.fromisoformat, help="First day (YYYY-MM-DD).")
    analytics.add_argument("--until", type=date.fromisoformat, help="Day after the last.")
    analytics.add_argument("--measure", choices=SEASONAL_MEASURES, default="revenue")
    analytics.add_argument(
        "--kind", choices=("code", "reference", "phone_line", "landing_url"), default=None
    )
    analytics.add_argument("--business-unit", default=None)
    analytics.add_argument("--channel", default=None)
    output = analytics.add_mutually_exclusive_group()
    output.add_argument("--csv", metavar="FILE", help="Write CSV to FILE ('-': stdout).")
    output.add_argument("--json", action="store_true", help="One JSON document.")
    analytics.set_defaults(func=command(show_analytics))


async def show_analytics(settings: Settings, args: argparse.Namespace) -> int:
    ask = Ask(args.since, args.until, args.measure, args.kind, args.business_unit, args.channel)
    async with database(settings) as pool:
        reports = Analytics(pool, bootstrap.analytics_policy(settings))
        rows = await reports.report(Report(args.report), ask)
    if args.csv == "-":
        sys.stdout.write(to_csv(rows))
    elif args.csv:
        Path(args.csv).write_text(to_csv(rows), encoding="utf-8")  # noqa: ASYNC240  # one write
        print(f"analytics: {len(rows)} rows written to {args.csv}")
    elif args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(table(rows))
    return 0


def table(rows: list[Row]) -> str:
    """Rows as aligned columns (suppressed or missing values shown as —)."""
    if not rows:
        return "(no rows: has the metrics stage read any events yet?)"
    columns = list(rows[0])
    cells = [[("—" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = [columns, *cells]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )
