"""Acceptance 4: on a generated history with planted co-purchases, the recommendations rank
the planted pairs first; and the incremental counts equal a recount from scratch.

The co-purchase view is applied batch by batch in transactions, as the runner applies it,
with re-published copies of events; no broker is needed for what is under test.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Touchpoint
from events.resolved import Resolved
from projections import db
from projections.profile.postgres import ProfileView
from projections.recommendations.postgres import SCHEMA, CoPurchaseView, categories_of, recommended
from tests.factories import BASE_TIME
from tests.profile_support import touch
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {"t-agent": Caller("Ann", Role.AGENT), "t-marketing": Caller("Mia", Role.MARKETING)}
PLANTED = {"tents": "sleeping-bags", "barbecues": "garden-furniture", "prams": "car-seats"}
NOISE = ["kitchen", "books", "tools", "lamps", "rugs", "paint", "toys", "games"]


def _purchase(customer: str, n: int, categories: list[str], rng: random.Random) -> Resolved:
    lines = [
        {"sku": f"SKU-{c}", "category": c, "quantity": 1, "unit_price": "10.00"} for c in categories
    ]
    payload = {
        "order_id": f"O-{n}",
        "lines": lines,
        "currency": "EUR",
        "total": f"{10 * len(lines)}.00",
        "payment_method": "card",
    }
    at = BASE_TIME + timedelta(days=n, hours=rng.randint(0, 9))
    event = touch(
        "purchase.completed", payload, at=at, message_id=f"{customer}-{n}", customer=customer
    )
    return Resolved(customer_id=customer, event=event)


def _history(customers: int, seed: int) -> tuple[list[Resolved], dict[str, set[str]]]:
    rng = random.Random(seed)
    events: list[Resolved] = []
    bought: dict[str, set[str]] = {}
    for i in range(customers):
        customer = f"cust-{i:04d}"
        baskets = [[c] for c in NOISE if rng.random() < 0.15]
        for x, y in PLANTED.items():
            if rng.random() < 0.2:
                baskets.append([x])
                if rng.random() < 0.85:  # bought later, or in the same order
                    baskets.append([y]) if rng.random() < 0.5 else baskets[-1].append(y)
        rng.shuffle(baskets)
        for n, basket in enumerate(baskets):
            events.append(_purchase(customer, n, basket, rng))
            bought.setdefault(customer, set()).update(basket)
    return events, bought


async def test_planted_co_purchases_rank_first_and_counts_equal_a_recount(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    events, bought = _history(1_500, seed=4)
    rng = random.Random(9)
    replayed: list[Touchpoint | Resolved] = [*events, *rng.sample(events, 200)]  # copies
    view = CoPurchaseView()
    pool_url = await new_database()
    pool = await asyncpg.create_pool(pool_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.create_tables(conn, SCHEMA)
            for start in range(0, len(replayed), 700):
                async with conn.transaction():
                    await view.write(conn, view.changes(replayed[start : start + 700]))

        # the counts are exact: a recount from each customer's categories
        buyers = len(bought)
        singles = Counter(c for cats in bought.values() for c in cats)
        pairs = Counter(p for cats in bought.values() for p in itertools.permutations(cats, 2))
        stored_pairs = {
            (r["bought"], r["also"]): r["customers"]
            for r in await pool.fetch("SELECT bought, also, customers FROM reco_pairs_v1")
        }
        assert stored_pairs == dict(pairs)
        stored = await pool.fetch("SELECT category, customers FROM reco_categories_v1")
        assert {r["category"]: r["customers"] for r in stored} == dict(singles)
        assert await pool.fetchval("SELECT customers FROM reco_buyers_v1") == buyers

        for x, y in PLANTED.items():
            ranked = await recommended(pool, [x], min_customers=5)
            assert ranked[0]["category"] == y, ranked[:3]
            assert ranked[0]["confidence"] == pytest.approx(pairs[x, y] / singles[x])
            assert ranked[0]["support"] == pytest.approx(pairs[x, y] / buyers)
            assert ranked[0]["lift"] > 2 * max(r["lift"] for r in ranked[1:])

        # a customer's next best category: the planted partner of what they bought
        customer = next(
            c for c, cats in bought.items() if cats & {"tents"} and "sleeping-bags" not in cats
        )
        theirs = await categories_of(pool, [customer])
        assert theirs == sorted(bought[customer])
        best = await recommended(pool, theirs, min_customers=5)
        assert best[0]["category"] == "sleeping-bags"
        assert not set(theirs) & {r["category"] for r in best}

        # the next best offer shown to reps: the same, never what the customer bought
        await create_tables(pool)
        async with pool.acquire() as conn, conn.transaction():
            await ProfileView().apply(conn, [e for e in events if e.customer_id == customer])
        app = create_app(str(pool_url), tokens=TOKENS)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            path = f"/customers/{customer}/next-best-offers"
            answer = await http.get(path, headers={"Authorization": "Bearer t-agent"})
            assert answer.status_code == 200, answer.text
            offers = answer.json()["offers"]
            assert [o["category"] for o in offers] == [r["category"] for r in best[:3]]
            assert not any(c in answer.text for c in theirs)
            refused = await http.get(path, headers={"Authorization": "Bearer t-marketing"})
            assert refused.status_code == 403
            unknown = await http.get(
                "/customers/nobody/next-best-offers", headers={"Authorization": "Bearer t-agent"}
            )
            assert unknown.status_code == 404
    finally:
        await pool.close()
