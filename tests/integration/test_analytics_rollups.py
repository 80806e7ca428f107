"""The metrics projection on PostgreSQL against an independent recomputation from the raw
events: a generated year applied in batches, one batch twice, gives the daily rollups the
events imply (issue 19, acceptance 1); a rebuild into an empty database gives the same."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from random import Random

import asyncpg

from events import Touchpoint
from producers.demo.history import history_events
from projections import db
from projections.metrics.fold import DAILY_MEASURES
from projections.metrics.postgres import DAILY, MetricsView
from tests.metrics_support import NOW, Cell, recompute


async def load(pool: asyncpg.Pool, events: list[Touchpoint], seed: int) -> None:
    view, rng = MetricsView(), Random(seed)
    async with pool.acquire() as conn:
        await db.create_tables(conn, *view.schema)
        start = 0
        while start < len(events):
            batch = events[start : start + rng.randint(1, 2500)]
            for _ in range(2 if rng.random() < 0.2 else 1):  # a batch read again: no effect
                async with conn.transaction():
                    await view.apply(conn, batch)
            start += len(batch)


async def stored(pool: asyncpg.Pool) -> dict[Cell, dict[str, int | Decimal]]:
    rows = await pool.fetch(f"SELECT * FROM {DAILY}")
    return {
        (r["day"], r["business_unit"], r["channel"], r["type"]): {
            m: r[m] for m in DAILY_MEASURES if r[m]
        }
        for r in rows
    }


async def bands(pool: asyncpg.Pool) -> list[tuple[object, ...]]:
    """The cross-reference's rollup, kept incrementally as customers move between bands."""
    rows = await pool.fetch(
        "SELECT age_band, income_band, customers, spend, rating_sum, rating_count "
        "FROM metrics_bands_v1 WHERE customers > 0 ORDER BY 1, 2"
    )
    return [tuple(r) for r in rows]


async def bands_from_customers(pool: asyncpg.Pool) -> list[tuple[object, ...]]:
    """The same, aggregated afresh from every customer's current state."""
    rows = await pool.fetch(
        "SELECT coalesce(age_band, 'unknown'), coalesce(income_band, 'unknown'), count(*), "
        "sum(spend), sum(rating_sum), sum(rating_count) FROM metrics_customers_v1 "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return [tuple(r) for r in rows]


async def test_a_year_of_daily_rollups_equals_the_recomputation(
    pool: asyncpg.Pool, new_database: Callable[[], Awaitable[str]]
) -> None:
    year = list(history_events(60, years=0, seed=5, now=NOW))
    expected = recompute(year)
    await load(pool, year, seed=1)
    assert await stored(pool) == expected

    assert await bands(pool) == await bands_from_customers(pool)

    rebuilt = await asyncpg.create_pool(await new_database(), min_size=1, max_size=2)
    try:
        await load(rebuilt, year, seed=2)  # cut into other batches
        assert await stored(rebuilt) == expected
    finally:
        await rebuilt.close()
