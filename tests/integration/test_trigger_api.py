"""``/triggers`` over HTTP: who sees what, filters, acknowledging and closing."""

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
from projections.triggers.model import Audience, Kind, Suppression, Trigger
from projections.triggers.postgres import TriggerStore
from projections.triggers.subscriptions import Subscription
from tests.integration.trigger_support import BASE, make_trigger, store
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
    "t-marketing": Caller("Mia Marketing", Role.MARKETING),
}
OFFER = make_trigger("cross-sell-tv", "cust-1", created_at=BASE + timedelta(hours=1))
TASK = make_trigger("service-reminder", "cust-1", kind=Kind.SERVICE, created_at=BASE)
ESCALATION = make_trigger(
    "complaint-escalation",
    "cust-2",
    kind=Kind.SERVICE,
    audience=Audience.MANAGER,
    created_at=BASE + timedelta(hours=2),
)
HELD = make_trigger(
    "cross-sell-tv",
    "cust-2",
    suppressed=Suppression.OPEN_COMPLAINT,
    created_at=BASE + timedelta(hours=3),
)
ALL = [OFFER, TASK, ESCALATION, HELD]


@pytest.fixture
async def client(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_tables(pool)  # every table the API reads: the customer filter checks them
    await store(pool, ALL, TriggerStore([Subscription("crm")]))
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


def _as(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer t-{role}"}


async def _ids(client: httpx.AsyncClient, role: str, **params: Any) -> list[str]:
    response = await client.get("/triggers", params=params, headers=_as(role))
    assert response.status_code == 200, response.text
    return [t["trigger_id"] for t in response.json()["triggers"]]


def _ids_of(*triggers: Trigger) -> list[str]:
    return [t.trigger_id for t in sorted(triggers, key=lambda t: t.created_at, reverse=True)]


async def test_each_role_sees_its_triggers(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "agent") == _ids_of(OFFER, TASK, ESCALATION)
    assert await _ids(client, "marketing") == _ids_of(OFFER)
    assert await _ids(client, "manager") == _ids_of(*ALL)
    held = await client.get("/triggers", params={"status": "suppressed"}, headers=_as("manager"))
    [item] = held.json()["triggers"]
    assert item["suppressed"] == "open_complaint"
    assert item["suppressed_reason"] == "suppressed: open_complaint"


async def test_no_token_no_triggers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/triggers")).status_code == 401


@pytest.mark.parametrize(
    ("role", "params", "refused"),
    [
        ("agent", {"status": "suppressed"}, "the agent role may not list suppressed triggers"),
        ("marketing", {"status": "suppressed"}, "marketing role may not list suppressed"),
        ("marketing", {"kind": "service"}, "may not list service triggers"),
    ],
)
async def test_asking_for_what_the_role_may_not_see_is_refused(
    client: httpx.AsyncClient, role: str, params: dict[str, str], refused: str
) -> None:
    response = await client.get("/triggers", params=params, headers=_as(role))
    assert response.status_code == 403
    assert refused in response.json()["detail"]


async def test_filters(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "agent", customer_id="cust-1") == _ids_of(OFFER, TASK)
    assert await _ids(client, "agent", kind="service") == _ids_of(TASK, ESCALATION)
    assert await _ids(client, "manager", rule="cross-sell-tv") == _ids_of(OFFER, HELD)
    assert await _ids(client, "agent", rule="cross-sell-tv") == _ids_of(OFFER)
    assert await _ids(client, "manager", audience="manager") == _ids_of(ESCALATION)
    nobody = await client.get("/triggers", params={"customer_id": "nobody"}, headers=_as("agent"))
    assert (nobody.status_code, nobody.json()) == (404, {"detail": "no customer nobody"})
    first = await client.get("/triggers", params={"limit": 2}, headers=_as("manager"))
    cursor = first.json()["next_cursor"]
    rest = await _ids(client, "manager", limit=2, cursor=cursor)
    assert [t["trigger_id"] for t in first.json()["triggers"]] + rest == _ids_of(*ALL)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "pending"}, ["query", "status", 0]),
        ({"kind": "sales"}, ["query", "kind", 0]),
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 1000}, ["query", "limit"]),
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
    ],
)
async def test_bad_parameters_are_named(
    client: httpx.AsyncClient, params: dict[str, Any], field: list[Any]
) -> None:
    response = await client.get("/triggers", params=params, headers=_as("agent"))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == field
    assert error["msg"]


async def test_one_trigger(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/triggers/{OFFER.trigger_id}", headers=_as("marketing"))
    assert response.status_code == 200
    body = response.json()
    assert body["rule"] == "cross-sell-tv"
    assert body["evidence"] == list(OFFER.evidence)
    assert body["status"] == "open"
    assert body["actions"] == []
    assert (await client.get("/triggers/nope", headers=_as("agent"))).status_code == 404
    hidden = await client.get(f"/triggers/{TASK.trigger_id}", headers=_as("marketing"))
    assert hidden.status_code == 403
    assert "may not see service triggers" in hidden.json()["detail"]
    held = await client.get(f"/triggers/{HELD.trigger_id}", headers=_as("agent"))
    assert held.status_code == 403
    assert "suppressed" in held.json()["detail"]


async def test_acknowledge_then_close(client: httpx.AsyncClient) -> None:
    path = f"/triggers/{TASK.trigger_id}"
    ack = await client.post(f"{path}/acknowledge", json={"note": "on it"}, headers=_as("agent"))
    assert ack.status_code == 200, ack.text
    assert ack.json()["status"] == "acknowledged"
    again = await client.post(f"{path}/acknowledge", headers=_as("manager"))
    assert again.status_code == 409
    assert "cannot acknowledge a trigger that is acknowledged" in again.json()["detail"]

    closed = await client.post(f"{path}/close", json={"note": "booked"}, headers=_as("manager"))
    assert closed.status_code == 200
    actions = closed.json()["actions"]
    assert [(a["action"], a["actor"], a["role"], a["note"]) for a in actions] == [
        ("acknowledged", "Ann Agent", "agent", "on it"),
        ("closed", "Max Manager", "manager", "booked"),
    ]
    twice = await client.post(f"{path}/close", headers=_as("agent"))
    assert twice.status_code == 409
    assert "cannot close a trigger that is closed" in twice.json()["detail"]

    assert await _ids(client, "agent") == _ids_of(OFFER, ESCALATION)  # closed: off the list
    assert await _ids(client, "agent", status="closed") == _ids_of(TASK)


async def test_who_may_act(client: httpx.AsyncClient) -> None:
    offer = f"/triggers/{OFFER.trigger_id}"
    refused = await client.post(f"{offer}/acknowledge", headers=_as("marketing"))
    assert refused.status_code == 403
    assert "marketing role may not acknowledge marketing triggers" in refused.json()["detail"]
    task = await client.post(f"/triggers/{TASK.trigger_id}/close", headers=_as("marketing"))
    assert task.status_code == 403
    assert (await client.post(f"{offer}/close", headers=_as("marketing"))).status_code == 200

    held = f"/triggers/{HELD.trigger_id}/close"
    assert (await client.post(held, headers=_as("agent"))).status_code == 403
    not_sent = await client.post(held, headers=_as("manager"))
    assert not_sent.status_code == 409
    assert "suppressed" in not_sent.json()["detail"]
    assert (await client.post("/triggers/nope/close", headers=_as("agent"))).status_code == 404
    long_note = await client.post(
        f"/triggers/{TASK.trigger_id}/close", json={"note": "x" * 3000}, headers=_as("agent")
    )
    assert long_note.status_code == 422
    assert long_note.json()["detail"][0]["loc"] == ["body", "note"]


async def test_the_delivery_log_is_for_managers(client: httpx.AsyncClient) -> None:
    path = f"/triggers/{OFFER.trigger_id}/deliveries"
    response = await client.get(path, headers=_as("manager"))
    assert response.status_code == 200
    [delivery] = response.json()["deliveries"]
    assert delivery["subscriber"] == "crm"
    assert delivery["status"] == "pending"
    assert delivery["log"] == []
    assert (await client.get(path, headers=_as("agent"))).status_code == 403
    held = await client.get(f"/triggers/{HELD.trigger_id}/deliveries", headers=_as("manager"))
    assert held.json()["deliveries"] == []
    assert (await client.get("/triggers/x/deliveries", headers=_as("manager"))).status_code == 404
