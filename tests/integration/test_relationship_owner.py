"""Relationship ownership (issue 14, build 6; seed 004): the owning rep and managers read
the account's restricted figures and the owner's private notes; no other agent does.
Every other rule stays: a reveal needs a reason, and every read is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Touchpoint, from_mapping
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from tests.factories import BASE_TIME, event_dict
from tests.profile_support import SENTINELS, full_profile_events
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

CUSTOMER = "cust-key-account"
NOTE = "SENTINEL-PRIVATE-NOTE: renewal at risk"
TOKENS = {
    "t-owner": Caller("Olga Owner", Role.AGENT),
    "t-other": Caller("Oscar Other", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
}
RESTRICTED_VALUES = [v for v in SENTINELS["restricted"].values() if len(v) < 40]
ASK = {"reveal": "restricted", "reason": "account review"}


def _relationship(kind: str, payload: dict[str, Any], at_days: int, mid: str) -> Touchpoint:
    data = event_dict(customer=CUSTOMER, message_id=mid, at=BASE_TIME + timedelta(days=at_days))
    data["source"] = {"system": "crm", "business_unit": "key-accounts", "channel": "app"}
    return from_mapping(data | {"type": kind, "payload": payload})


ASSIGNED = _relationship(
    "relationship.assigned", {"owner": "Olga Owner", "assigned_by": "Max Manager"}, 30, "r1"
)
NOTED = _relationship("relationship.noted", {"author": "Olga Owner", "note": NOTE}, 31, "r2")


async def _apply(pool: asyncpg.Pool, events: list[Touchpoint]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, events)
        await ProfileView().apply(conn, events)


@pytest.fixture
async def client(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)
    await _apply(pool, [*full_profile_events(CUSTOMER), ASSIGNED, NOTED])
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


def _as(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer t-{who}"}


async def _reads(client: httpx.AsyncClient, who: str, params: dict[str, str]) -> list[Any]:
    profile = await client.get(f"/customers/{CUSTOMER}/profile", params=params, headers=_as(who))
    timeline = await client.get(
        f"/customers/{CUSTOMER}/timeline", params=params | {"limit": "200"}, headers=_as(who)
    )
    history = await client.get(
        f"/customers/{CUSTOMER}/profile/history",
        params=params | {"field": "date_of_birth"},
        headers=_as(who),
    )
    return [profile, timeline, history]


async def test_the_owner_reads_the_restricted_figures_and_private_notes_revealed(
    client: httpx.AsyncClient,
) -> None:
    answers = await _reads(client, "owner", ASK)
    assert [a.status_code for a in answers] == [200, 200, 200]
    profile, timeline, history = answers
    assert profile.json()["restricted"]["income_band"] == SENTINELS["restricted"]["income_band"]
    assert NOTE in timeline.text
    assert history.json()["entries"]
    audit = (await client.get("/audit/access", headers=_as("manager"))).json()["records"]
    owned = [r for r in audit if r["who"] == "Olga Owner"]
    assert len(owned) == 3
    for record in owned:
        assert (record["tier"], record["reason"]) == ("restricted", "account review")
        assert record["detail"] == {"as": "relationship owner"}


async def test_the_owner_without_a_reveal_sees_no_restricted_value(
    client: httpx.AsyncClient,
) -> None:
    plain = await client.get(f"/customers/{CUSTOMER}/timeline", headers=_as("owner"))
    no_reason = await client.get(
        f"/customers/{CUSTOMER}/profile", params={"reveal": "restricted"}, headers=_as("owner")
    )
    assert no_reason.status_code == 422
    assert NOTE not in plain.text
    for value in RESTRICTED_VALUES:
        assert value not in plain.text


async def test_another_agent_is_refused_and_a_service_reveal_shows_no_note(
    client: httpx.AsyncClient,
) -> None:
    answers = await _reads(client, "other", ASK)
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert "owns the customer's relationship" in answers[0].json()["detail"]
    service = {"reveal": "service", "reason": "refund"}
    revealed = await client.get(
        f"/customers/{CUSTOMER}/timeline", params=service | {"limit": "200"}, headers=_as("other")
    )
    assert revealed.status_code == 200
    assert "Private note by Olga Owner" in revealed.text  # the summary: never the note
    assert NOTE not in revealed.text
    for value in RESTRICTED_VALUES:
        assert value not in revealed.text


async def test_a_manager_reads_them_and_a_new_owner_takes_over(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    manager = await client.get(
        f"/customers/{CUSTOMER}/timeline", params={"limit": "200"}, headers=_as("manager")
    )
    assert NOTE in manager.text

    moved = _relationship(
        "relationship.assigned", {"owner": "Oscar Other", "assigned_by": "Max Manager"}, 40, "r3"
    )
    await _apply(pool, [moved])
    assert [a.status_code for a in await _reads(client, "other", ASK)] == [200, 200, 200]
    assert [a.status_code for a in await _reads(client, "owner", ASK)] == [403, 403, 403]

    nobody = _relationship(
        "relationship.assigned", {"owner": None, "assigned_by": "Max Manager"}, 50, "r4"
    )
    await _apply(pool, [nobody])
    assert [a.status_code for a in await _reads(client, "other", ASK)] == [403, 403, 403]
