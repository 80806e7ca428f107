"""The next best offer where reps look: the JSON customer read and the customer card on the
rep's screen show the categories the customer has not bought, best first, with support and
confidence — the same ranking as ``GET /customers/{id}/next-best-offers``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from api.web.session import COOKIE
from projections import versions
from projections.profile.postgres import ProfileView
from projections.recommendations.postgres import PAIRS, SCHEMA, CoPurchaseView, recommended
from tests.integration.test_recommendations import _history
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {"t-agent": Caller("Ann", Role.AGENT), "t-marketing": Caller("Mia", Role.MARKETING)}


async def test_the_customer_read_and_card_show_the_best_categories_not_yet_bought(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    events, bought = _history(600, seed=11)
    url = await new_database()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await create_tables(pool)
        view = CoPurchaseView()
        async with pool.acquire() as conn:
            live = await versions.ensure_live(conn, PAIRS, (SCHEMA,))
            async with conn.transaction():  # as the runner writes its live version
                await conn.execute(f"SET LOCAL search_path TO {versions.search_path(PAIRS, live)}")
                await view.write(conn, view.changes(events))
        customer = next(
            c
            for c, cats in sorted(bought.items())
            if "tents" in cats and "sleeping-bags" not in cats
        )
        theirs = sorted(bought[customer])
        best = await recommended(pool, theirs, min_customers=5, limit=3)
        assert best[0]["category"] == "sleeping-bags"  # the planted partner of tents
        async with pool.acquire() as conn, conn.transaction():
            await ProfileView().apply(conn, [e for e in events if e.customer_id == customer])

        app = create_app(url, tokens=TOKENS)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            agent = {"Authorization": "Bearer t-agent"}
            read = await http.get(f"/customers/{customer}", headers=agent)
            assert read.status_code == 200, read.text
            offers = read.json()["next_best_offers"]
            assert [o["category"] for o in offers] == [r["category"] for r in best]
            assert offers[0]["confidence"] == pytest.approx(best[0]["confidence"])
            assert offers[0]["support"] == pytest.approx(best[0]["support"])
            assert not {o["category"] for o in offers} & set(theirs)
            same = await http.get(f"/customers/{customer}/next-best-offers", headers=agent)
            assert [o["category"] for o in same.json()["offers"]] == [o["category"] for o in offers]

            http.cookies.update({COOKIE: "t-agent"})
            page = await http.get(f"/view/{customer}")
            assert page.status_code == 200, page.text
            shown = re.findall(r'<li data-category="([^"]+)">', page.text)
            assert shown == [r["category"] for r in best]
            confidence = f"{100 * best[0]['confidence']:.0f}% confidence"
            assert confidence in page.text
            assert f"{100 * best[0]['support']:.1f}% support" in page.text
    finally:
        await pool.close()
