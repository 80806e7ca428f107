"""Back-pressure: with the broker stopped (SIGSTOP) for 10 s during a load, clients get
503 / 429 with Retry-After — never a 2xx for an unacknowledged event — and, retrying,
every event ends up in the log exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import event_dict
from tests.integration.gateway_support import gateway_app, in_process, logged_events, write_key
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

CLIENTS = 4
BATCHES = 6  # per client: 2 before the pause, the rest sent into it
EVENTS = 25  # per batch
PAUSE = 10.0


def _batch(client: int, number: int) -> list[dict[str, Any]]:
    events = []
    for i in range(EVENTS):
        event = event_dict("call.logged", message_id=f"c{client}-b{number}-e{i}")
        event["subject"] = {"customer_id": f"cust-{client}-{i % 5}"}
        del event["source"]
        events.append(event)
    return events


class Client:
    """A channel system that sends batches in turn and retries each until it is in."""

    def __init__(self, http: httpx.AsyncClient, number: int, paused: asyncio.Event) -> None:
        self.http = http
        self.number = number
        self.paused = paused
        self.sent = 0
        self.answers: Counter[int] = Counter()
        self.retry_after: set[str] = set()
        self.early_2xx: list[str] = []

    async def send(self, batches: range, give_up_at: float) -> None:
        for number in batches:
            await self._until_in(_batch(self.number, number), give_up_at)
            self.sent += 1

    async def _until_in(self, batch: list[dict[str, Any]], give_up_at: float) -> None:
        while time.monotonic() < give_up_at:
            response = await self.http.post("/v1/events/batch", json={"events": batch})
            self.answers[response.status_code] += 1
            body = response.json()
            if response.status_code == 200:
                assert body["success"], body
                return
            assert response.status_code in (429, 503), body
            self.retry_after.add(response.headers["Retry-After"])
            # Not one event is reported in the log unless the broker acknowledged it.
            self.early_2xx += [
                r["message_id"]
                for r in body["results"]
                if r["status"] == "accepted" and self.paused.is_set()
            ]
            await asyncio.sleep(float(response.headers["Retry-After"]))  # as clients do
        raise AssertionError(f"client {self.number}: a batch still refused at the deadline")


async def test_a_stopped_broker_gets_503_then_every_event_lands_once(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    app = gateway_app(
        broker.bootstrap_servers,
        database_url,
        topics["touchpoints"],
        publish_timeout=1.0,
        retry_after=1,
        max_pending=2 * EVENTS,  # half the clients' batches wait for the broker, half get 429
    )
    async with in_process(app, key) as http:
        paused = asyncio.Event()
        clients = [Client(http, n, paused) for n in range(CLIENTS)]
        give_up_at = time.monotonic() + 90
        await asyncio.gather(*(c.send(range(2), give_up_at) for c in clients))  # healthy
        loads = [asyncio.create_task(c.send(range(2, BATCHES), give_up_at)) for c in clients]
        broker.pause()
        paused.set()
        try:
            await eventually(
                lambda: _refusals(clients),
                lambda n: n >= CLIENTS,
                timeout=PAUSE,
                what="every client refused while the broker is stopped",
            )
            # The scenario: the broker stays stopped for 10 s while the load goes on.
            await asyncio.sleep(max(0.0, PAUSE - 2.0))
            assert all(c.sent == 2 for c in clients), "a batch got a 200 from a stopped broker"
        finally:
            paused.clear()
            broker.resume()
        await asyncio.gather(*loads)

    assert all(c.sent == BATCHES for c in clients)
    assert sum(c.answers[503] for c in clients) >= 2
    assert sum(c.answers[429] for c in clients) >= 2
    assert {ra for c in clients for ra in c.retry_after} == {"1"}
    assert [m for c in clients for m in c.early_2xx] == []
    logged = Counter(
        e["message_id"]
        for e in await logged_events(broker.bootstrap_servers, topics["touchpoints"])
    )
    expected = {
        f"c{c}-b{b}-e{e}" for c in range(CLIENTS) for b in range(BATCHES) for e in range(EVENTS)
    }
    assert set(logged) == expected
    assert [m for m, n in logged.items() if n > 1] == []


async def _refusals(clients: list[Client]) -> int:
    return sum(c.answers[503] + c.answers[429] for c in clients)
