"""``touchlog demo --years N``: years of history with planted trends, for the analytics
(``producers/demo/history.py`` says which)."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice

from touchlog import bootstrap
from touchlog.cli_common import publisher
from touchlog.settings import Settings

CHUNK = 5000
"""Events generated and published at a time: years of history never sit in memory."""


async def publish_history(
    endpoints: bootstrap.Endpoints,
    settings: Settings,
    customers: int,
    years: int,
    now: datetime | None = None,
) -> None:
    from producers.demo.history import PLANTED, history_events

    events = history_events(customers, years, now=now)
    published = 0
    async with publisher(settings, endpoints) as sink:
        while chunk := list(islice(events, CHUNK)):
            # In time order across customers: the resolver reads the history as it happened.
            published += len(await sink.publish_many(chunk, in_order=True))
    costs = {code: int(cost) for code, cost in PLANTED.campaign_costs(customers).items()}
    print(
        f"demo: published {published} events, the year to date and the {years} before it, "
        f"{customers} customers at first, growing {PLANTED.growth:.0%} a year; "
        f"TOUCHLOG_ANALYTICS_CAMPAIGN_COSTS='{json.dumps(costs)}' gives the campaigns' "
        "return; GET /analytics/page",
        flush=True,
    )
