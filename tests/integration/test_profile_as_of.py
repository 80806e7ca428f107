"""Acceptance 1 through PostgreSQL and HTTP: the profile served at ``as_of=T`` is the fold
of the customer's events with ``occurred_at ≤ T``.

Each example writes one customer's events in random batches, in arrival order (late, out
of order, re-published copies; a batch may be written twice), then reads the profile over
HTTP at moments around every event and compares it with ``reference_profile``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Touchpoint
from projections.profile.postgres import ProfileView
from tests.factories import BASE_TIME
from tests.profile_support import customer_events, reference_profile
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

MANAGER = {"Authorization": "Bearer t-manager"}


@pytest.fixture
async def client(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    app = create_app(database_url, tokens={"t-manager": Caller("Max", Role.MANAGER)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=MANAGER
        ) as http,
    ):
        yield http


def _flat(body: dict[str, Any]) -> dict[str, Any]:
    values = {**body["essential"], **body["service"], **body["restricted"]}
    values["consents"] = body["consents"]
    return values


@st.composite
def written_in_batches(draw: st.DrawFn) -> tuple[str, list[Touchpoint], list[list[Touchpoint]]]:
    customer = f"prop-{uuid.uuid4().hex[:10]}"
    events = draw(customer_events(customer=customer, max_size=15))
    cuts = sorted(draw(st.lists(st.integers(0, len(events)), max_size=4)))
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    replayed = draw(st.lists(st.sampled_from(batches), max_size=2))
    return customer, events, [b for b in batches + replayed if b]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=written_in_batches(), extra=st.integers(0, 24 * 500))
async def test_the_profile_served_as_of_t_is_the_fold_of_the_events_until_t(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    case: tuple[str, list[Touchpoint], list[list[Touchpoint]]],
    extra: int,
) -> None:
    customer, events, batches = case
    view = ProfileView()
    for batch in batches:
        async with pool.acquire() as conn, conn.transaction():
            await view.apply(conn, batch)
    moments = sorted({e.occurred_at for e in events})
    moments += [m - timedelta(microseconds=1) for m in moments]
    moments += [BASE_TIME + timedelta(hours=extra)]
    for moment in moments:
        response = await client.get(
            f"/customers/{customer}/profile", params={"as_of": moment.isoformat()}
        )
        assert response.status_code == 200, response.text
        assert _flat(response.json()) == reference_profile(events, moment), moment
