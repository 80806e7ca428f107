"""``touchlog status``: per stage and partition, how far behind it is, in events and in time.

touchlog status [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from consumers.resolver import IdentityResolver
from consumers.status import PartitionStatus, Stage, StageCatalogue, stage_status
from projections.audiences.postgres import AudienceView
from projections.metrics.postgres import MetricsView
from projections.profile.postgres import ProfileView
from projections.recommendations.postgres import CoPurchaseView
from projections.timeline.postgres import TimelineView
from projections.triggers.postgres import TABLE as TRIGGER_STORE
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, database
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    status = sub.add_parser(
        "status",
        help="Per stage and partition: stored offset, end of the log, lag in events and in "
        "seconds, last error, live view.",
    )
    status.add_argument("--json", action="store_true", help="One JSON document.")
    status.set_defaults(func=command(show_status))


def stages(settings: Settings) -> tuple[Stage, ...]:
    """Every stage ``touchlog runner`` runs, under the name of its live view."""
    return (
        Stage("identity", IdentityResolver.name, settings.topic_touchpoints, "identity"),
        Stage("timeline", TimelineView.name, settings.topic_resolved, "timeline"),
        Stage("profile", ProfileView.name, settings.topic_resolved, "profile"),
        Stage("metrics", MetricsView.name, settings.topic_resolved, "metrics"),
        Stage("triggers", TRIGGER_STORE, settings.topic_triggers, "triggers"),
        Stage("triggers-suppressed", TRIGGER_STORE, settings.topic_triggers_suppressed, "triggers"),
        Stage("audiences", AudienceView.name, settings.topic_resolved, "audiences"),
        Stage("recommendations", CoPurchaseView.name, settings.topic_resolved, "recommendations"),
    )


def catalogue(settings: Settings) -> StageCatalogue:
    """What ``GET /status`` reports on, on the configured broker."""
    endpoints = bootstrap.configured_endpoints(settings)
    return StageCatalogue(endpoints.bootstrap_servers, stages(settings), endpoints.kafka_security)


async def show_status(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    async with database(settings) as pool:
        found = await stage_status(
            pool, endpoints.bootstrap_servers, stages(settings), security=endpoints.kafka_security
        )
    if args.json:
        print(json.dumps([s.as_json() for s in found], indent=2))
    else:
        print(table(found))
    return 0


_COLUMNS = ("stage", "view", "partition", "offset", "end", "lag", "lag_s", "last error")


def table(found: Sequence[PartitionStatus]) -> str:
    """Plain text, one line per stage and partition; ``-`` where a value is unknown."""
    rows = [_COLUMNS] + [
        (
            s.stage,
            s.view,
            str(s.partition),
            _text(s.stored_offset),
            _text(s.log_end),
            _text(s.lag_events),
            _text(None if s.lag_seconds is None else round(s.lag_seconds, 1)),
            (s.last_error or "")[:60],
        )
        for s in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = []
    for *cells, error in rows:
        padded = [cell.ljust(w) for cell, w in zip(cells, widths, strict=True)]
        lines.append("  ".join([*padded, error]).rstrip())
    return "\n".join(lines)


def _text(value: object) -> str:
    return "-" if value is None else str(value)
