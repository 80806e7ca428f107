"""A cross-sell rule with ``offer: recommended`` through the real faust worker: the offer is
the best category the customer has not bought, by the co-purchase counts of the live
recommendations view in PostgreSQL, and a reload of those counts reaches later offers.

Time is simulated (manual clock, ``tick`` commands); the counts are written by the view's
own adapter into its live version, and read by the worker through the default schema's
names, as in production.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import pytest

from events import Touchpoint
from projections import versions
from projections.recommendations.postgres import (
    PAIRS,
    SCHEMA,
    CoPurchaseView,
    recommended,
)
from projections.triggers import Trigger
from tests.factories import BASE_TIME
from tests.integration.trigger_worker_support import TriggerWorld
from tests.triggers_support import consent, purchase, touchpoint
from tests.waiting import eventually

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {name: after-a-tent, type: cross_sell, bought: tents, offer: recommended, within_days: 7}
  - {name: after-a-kettle, type: cross_sell, bought: kettles, offer: recommended,
     within_days: 7, fallback: gift-cards}
"""

# Planted: of 100 tent buyers, 80 bought sleeping bags, 60 stoves, 30 lamps.
PLANTED = {
    f"buyer-{i:03d}": {"tents"}
    | ({"sleeping-bags"} if i < 80 else set())
    | ({"stoves"} if i < 60 else set())
    | ({"lamps"} if i < 30 else set())
    for i in range(100)
}
# Later: 300 more tent buyers who also bought a hammock.
HAMMOCKS = {f"camper-{i:03d}": {"tents", "hammocks"} for i in range(300)}


async def _count(pool: asyncpg.Pool, bought: dict[str, set[str]]) -> None:
    """The co-purchase view applies these purchases to its live version."""
    async with pool.acquire() as conn:
        live = await versions.ensure_live(conn, PAIRS, (SCHEMA,))
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {versions.search_path(PAIRS, live)}")
            await CoPurchaseView().write(conn, bought)


def _loaded_categories(world: TriggerWorld) -> Callable[[], Awaitable[list[int]]]:
    """How many categories each snapshot the worker loaded held, from its (JSON) log."""

    async def probe() -> list[int]:
        lines = (json.loads(x) for x in world.log_text().splitlines() if x.startswith("{"))
        return [e["categories"] for e in lines if e.get("event") == "co_purchases_loaded"]

    return probe


def _ticking(world: TriggerWorld, now: datetime) -> Callable[[], Awaitable[list[Trigger]]]:
    """Move the clock to ``now`` and read the triggers; again until they are there. (A tick
    read before a partition's events would find no timer yet: ticking again is harmless,
    a due timer fires once.)"""

    async def probe() -> list[Trigger]:
        await world.tick(now)
        return await world.triggers()

    return probe


async def test_a_recommended_offer_is_the_best_category_not_yet_bought(
    world: TriggerWorld,
    new_database: Callable[[], Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = await new_database()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        await _count(pool, PLANTED)
        expected = {
            name: (await recommended(pool, bought, min_customers=5))[0]["category"]
            for name, bought in {
                "ann": ["sleeping-bags", "tents"],
                "bob": ["tents"],
            }.items()
        }
        # independently of the SQL read: sleeping-bags buyers also bought stoves 60/80 times
        assert expected == {"ann": "stoves", "bob": "sleeping-bags"}

        await world.create_topics()
        monkeypatch.setenv("DATABASE_URL", database)
        t0 = BASE_TIME
        day = timedelta(days=1)

        def granted(who: str, at_day: int) -> tuple[str, Touchpoint]:
            event = touchpoint(
                "consent.changed",
                who,
                t0 + at_day * day,
                consent("granted"),
                email=f"{who}@example.com",
            )
            return who, event

        def bought(who: str, category: str, at_day: int) -> tuple[str, Touchpoint]:
            return who, touchpoint("purchase.completed", who, t0 + at_day * day, purchase(category))

        await world.publish(
            [
                granted("ann", 0),
                granted("bob", 0),
                granted("cid", 0),
                bought("ann", "sleeping-bags", 1),
                bought("ann", "tents", 2),
                bought("bob", "tents", 2),
                bought("cid", "kettles", 2),  # nobody else bought kettles: the fallback
            ]
        )
        world.start(RULES, {"TOUCHLOG_TRIGGER_CO_PURCHASES_REFRESH": "1"})
        await eventually(
            _loaded_categories(world),
            bool,
            timeout=90,
            what="the worker's first co-purchase snapshot",
        )
        offers = await eventually(
            _ticking(world, t0 + 10 * day), lambda ts: len(ts) >= 3, timeout=120
        )
        assert sorted((t.customer_id, t.rule, t.offer, t.channel) for t in offers) == [
            ("ann", "after-a-tent", "stoves", "email"),
            ("bob", "after-a-tent", "sleeping-bags", "email"),
            ("cid", "after-a-kettle", "gift-cards", "email"),
        ]
        assert all(t.suppressed is None for t in offers)
        [ann] = [t for t in offers if t.customer_id == "ann"]
        assert "also bought stoves" in ann.reason

        # The counts change; the worker reloads them without a restart.
        await _count(pool, HAMMOCKS)
        assert (await recommended(pool, ["tents"], min_customers=5))[0]["category"] == "hammocks"
        await eventually(
            _loaded_categories(world),
            lambda n: n[-1] == 5,  # hammocks is a category bought with rules of its own
            what="a reloaded snapshot",
        )
        await world.publish([granted("dee", 11), bought("dee", "tents", 11)])
        later = await eventually(_ticking(world, t0 + 20 * day), lambda ts: len(ts) >= 4)
        assert [(t.customer_id, t.offer) for t in later if t.customer_id == "dee"] == [
            ("dee", "hammocks")
        ]
        assert len(later) == 4  # nothing offered twice
        assert world.stop() == 0, world.log_text()
    finally:
        await pool.close()
