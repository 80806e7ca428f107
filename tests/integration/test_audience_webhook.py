"""Acceptance 3, webhooks: a marketing trigger's webhook carries the channel's consented
contact — the name and that channel's detail, compared with the channel's allowed fields —
and nothing else of the profile; without consent on the channel, no contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from consumers.webhooks import DispatchConfig, WebhookDispatcher
from consumers.webhooks.config import Subscriber
from consumers.webhooks.signature import TRIGGER_ID_HEADER
from projections.audiences.membership import CHANNEL_FIELDS, NAME_FIELDS
from projections.profile.postgres import ProfileView
from projections.triggers.model import Kind
from projections.triggers.postgres import TriggerStore
from tests.factories import BASE_TIME
from tests.integration.trigger_support import make_trigger, store
from tests.profile_support import touch
from tests.waiting import eventually
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

SECRET = "receiver-shared-secret-0123"  # noqa: S105  # a test key
FAST = DispatchConfig(poll_interval_s=0.05, request_timeout_s=2.0, backoff_base_s=0.05)
SENSITIVE = ("1961-07-14", "over_100k", "Rue Secrète", "+33 1 45 67 89 10", "leave with no. 12")


def _profile(customer: str, consents: dict[str, str]) -> list[Any]:
    profile = {
        "name": {
            "title": "Dr",
            "given_name": "Ada",
            "family_name": "Okafor",
            "pronunciation": "o-KA-for",
        },
        "emails": [{"use": "personal", "address": f"{customer}@example.com", "primary": True}],
        "phones": [
            {"use": "home", "number": "+33 1 45 67 89 10"},
            {"use": "mobile", "number": "+33612345678"},
        ],
        "addresses": [
            {
                "lines": ["1 Rue Secrète"],
                "locality": "Paris",
                "postal_code": "75011",
                "country": "FR",
            }
        ],
        "date_of_birth": "1961-07-14",
        "income_band": "over_100k",
        "dispatch_instructions": "leave with no. 12",
    }
    events = [
        touch(
            "profile.updated", profile, at=BASE_TIME, message_id=f"{customer}-p", customer=customer
        )
    ]
    for n, (channel, status) in enumerate(consents.items()):
        payload = {
            "purpose": "marketing",
            "channel": channel,
            "status": status,
            "legal_basis": "consent",
            "captured_via": "call",
        }
        events.append(
            touch(
                "consent.changed",
                payload,
                at=BASE_TIME + timedelta(hours=n + 1),
                message_id=f"{customer}-c{n}",
                customer=customer,
            )
        )
    return events


@contextlib.asynccontextmanager
async def receiving(bodies: dict[str, dict[str, Any]]) -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        bodies[request.headers[TRIGGER_ID_HEADER]] = json.loads(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    finally:
        await runner.cleanup()
        sock.close()


async def test_a_marketing_webhook_carries_only_the_channels_consented_contact(
    pool: asyncpg.Pool,
) -> None:
    await create_tables(pool)
    async with pool.acquire() as conn, conn.transaction():
        events = _profile("cust-1", {"email": "granted", "sms": "granted"}) + _profile(
            "cust-2", {"email": "revoked"}
        )
        await ProfileView().apply(conn, events)
    by_email = make_trigger("cross-sell-tv", "cust-1", channel="email")
    by_sms = make_trigger("cross-sell-tv", "cust-1", channel="sms")
    revoked = make_trigger("cross-sell-tv", "cust-2", channel="email")
    task = make_trigger("service-reminder", "cust-1", kind=Kind.SERVICE, channel="phone")
    triggers = [by_email, by_sms, revoked, task]
    bodies: dict[str, dict[str, Any]] = {}
    async with receiving(bodies) as url:
        subscribers = [
            Subscriber.model_validate(
                {"name": "crm", "url": url, "secret": SECRET, "contact": True}
            )
        ]
        await store(pool, triggers, TriggerStore([s.subscription() for s in subscribers]))
        dispatcher = WebhookDispatcher(pool, subscribers, FAST)
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        try:
            await eventually(
                lambda: asyncio.sleep(0, len(bodies)),
                lambda n: n == 4,
                timeout=30,
                what="4 webhooks",
            )
        finally:
            stop.set()
            await running

    for trigger, detail, value in (
        (by_email, "email", "cust-1@example.com"),
        (by_sms, "phone", "+33612345678"),
    ):
        body = bodies[trigger.trigger_id]
        contact = body["contact"]
        assert set(contact) | {"customer_id"} == set(CHANNEL_FIELDS[trigger.channel or ""])
        assert set(contact["name"]) == set(NAME_FIELDS)
        assert contact["name"] == {"title": "Dr", "given_name": "Ada", "family_name": "Okafor"}
        assert contact[detail] == value
        assert (body["offer"], body["reason"]) == (
            trigger.offer,
            trigger.reason,
        )  # offer, evidence in words
        for value in SENSITIVE:
            assert value not in json.dumps(body), value
    assert bodies[revoked.trigger_id]["contact"] is None  # no consent on the channel, no contact
    assert "contact" not in bodies[task.trigger_id]  # service triggers as they are
