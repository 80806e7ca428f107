"""Acceptance 2: every API endpoint, every profile field, every role.

An agent never receives a service or restricted value without a reveal, and never a
restricted one; marketing never receives a restricted one (nor service values beyond
interests and segments, nor contact details beyond its consented channels). Every reveal
and every read above the essential tier is in the access audit.

One customer has every profile field set to a distinctive value (``SENTINELS``); the
whole body of every response is searched for the values the caller may not have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Subject
from producers import Publisher
from projections.profile import FIELDS, project_all
from projections.profile.postgres import count_facts
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.profile_support import SENTINELS, full_profile_events
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

CUSTOMER = "cust-full"
TOKENS = {
    "t-agent": Caller("Ann Agent", Role.AGENT),
    "t-manager": Caller("Max Manager", Role.MANAGER),
    "t-marketing": Caller("Mia Marketing", Role.MARKETING),
}
ROLE_TOKEN = {caller.role: token for token, caller in TOKENS.items()}
ESSENTIAL = {f.name for f in FIELDS if f.tier.value == "essential"}
SERVICE = {f.name for f in FIELDS if f.tier.value == "service"}
RESTRICTED = {f.name for f in FIELDS if f.tier.value == "restricted"}
# The full customer granted marketing by email: marketing gets the emails and the name.
MARKETING = {"consents", "interests", "segments", "emails", "name", "title"}
REASON = "customer asked about a refund"


@pytest.fixture
async def client(
    broker: EmbeddedBroker, topics: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    events = full_profile_events(CUSTOMER)
    contact = Subject(customer_id=CUSTOMER, email="ann@example.com", phone="+33612345678")
    events[0] = events[0].model_copy(update={"subject": contact})
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)
    ends = endpoints(broker.bootstrap_servers, database_url)
    async with pipeline(pipeline_settings(topics), ends, pool):
        expected = len(project_all(events))
        await eventually(lambda: count_facts(pool), lambda n: n >= expected, what="every fact")
    app = create_app(database_url, tokens=TOKENS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


@dataclass
class Request:
    path: str
    params: dict[str, Any] = field(default_factory=dict)


def _requests() -> dict[str, list[Request]]:
    """Every route of the API, and the requests that exercise it."""
    profile = f"/customers/{CUSTOMER}/profile"
    reveal = {"reveal": "service", "reason": REASON}
    return {
        "/healthz": [Request("/healthz")],
        "/customers": [
            Request("/customers", {"query": q})
            for q in ("Niamh", "siob", "ann@example.com", "06 12 34 56 78", "75011")
        ],
        "/customers/{customer_id}": [Request(f"/customers/{CUSTOMER}")],
        "/lookup": [Request("/lookup", {"phone": "06 12 34 56 78"})],
        "/customers/{key}/timeline": [
            Request(f"/customers/{CUSTOMER}/timeline"),
            Request(f"/customers/{CUSTOMER}/timeline", reveal),
            Request(f"/customers/{CUSTOMER}/timeline", {"reveal": "restricted", "reason": "why"}),
        ],
        "/customers/{customer_id}/profile": [
            Request(profile),
            Request(profile, {"as_of": "2026-03-05T00:00:00Z"}),
            Request(profile, reveal),
            Request(profile, {**reveal, "as_of": "2026-03-05T00:00:00Z"}),
            Request(profile, {"reveal": "restricted", "reason": "curious"}),
        ],
        "/customers/{customer_id}/profile/history": [
            Request(f"{profile}/history", {"field": f.name, **extra})
            for f in FIELDS
            for extra in ({}, reveal)
        ],
        "/audit/access": [Request("/audit/access")],
        # The data inventory: counts, tiers and readers, no customer's values (managers).
        "/audit/data": [Request("/audit/data")],
        # Triggers carry no profile fields; their access rules: test_trigger_api.py.
        "/triggers": [Request("/triggers"), Request("/triggers", {"customer_id": CUSTOMER})],
        "/triggers/{trigger_id}": [Request("/triggers/unknown")],
        "/triggers/{trigger_id}/deliveries": [Request("/triggers/unknown/deliveries")],
        # Operations: offsets, lag and counters, no customer data (managers; /metrics open).
        "/status": [Request("/status")],
        "/metrics": [Request("/metrics")],
        # Analytics: aggregates, the restricted bands only in cells of k customers or more
        # (managers); what they hold: test_analytics_api.py.
        "/analytics/{report}": [
            Request("/analytics/year-on-year"),
            Request("/analytics/cross-reference"),
        ],
        # Audiences carry contact details only (none configured here: 404, agents 403);
        # what a list holds per channel: test_audience_lists.py.
        "/audiences": [Request("/audiences")],
        "/audiences/{name}/members": [Request("/audiences/x/members", {"channel": "email"})],
        "/customers/{customer_id}/next-best-offers": [
            Request(f"/customers/{CUSTOMER}/next-best-offers")
        ],
        "/audiences/{name}/members.csv": [
            Request("/audiences/x/members.csv", {"channel": "email"})
        ],
        # A data subject's right of access: everything held, for managers only (audited);
        # what it holds: test_erasure.py.
        "/customers/{customer_id}/export": [Request(f"/customers/{CUSTOMER}/export")],
    }


def _allowed(role: Role, params: dict[str, Any]) -> set[str]:
    """The profile fields a role may receive for these request parameters."""
    if role is Role.MANAGER:
        return ESSENTIAL | SERVICE | RESTRICTED
    if role is Role.MARKETING:
        return MARKETING
    return ESSENTIAL | (SERVICE if params.get("reveal") == "service" else set())


def _forbidden_values(allowed: set[str]) -> list[str]:
    return [
        value
        for tier in ("service", "restricted")
        for name, value in SENTINELS[tier].items()
        if name not in allowed
    ]


def _profile_fields(body: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for section in ("essential", "service", "restricted"):
        names |= set(body.get(section) or {})
    if body.get("consents") is not None:
        names.add("consents")
    return names


async def test_every_endpoint_serves_each_role_only_its_fields_and_audits_the_rest(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    writes = {path for path, methods in paths.items() if list(methods) != ["get"]}
    # The only writes: people working a trigger (they return the trigger, no profile data),
    # checking a caller's answer (it returns an outcome only) and a manager's erasure (it
    # returns a receipt: stores and counts, no personal data; tests/integration/test_erasure.py).
    assert writes == {
        "/triggers/{trigger_id}/acknowledge",
        "/triggers/{trigger_id}/close",
        "/customers/{customer_id}/verify",
        "/customers/{customer_id}/erasure",
    }
    requests = _requests()
    assert set(paths) - writes == set(requests), "a new endpoint needs its requests in this test"

    audited: list[tuple[int, str, Role, dict[str, Any]]] = []
    outcomes: dict[tuple[Role, str], int] = {}
    for route, examples in requests.items():
        for example in examples:
            anonymous = await client.get(example.path, params=example.params)
            open_to_all = route in {"/healthz", "/metrics"}
            assert anonymous.status_code == (200 if open_to_all else 401), example
            for role, token in ROLE_TOKEN.items():
                response = await client.get(
                    example.path,
                    params=example.params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if route == "/customers/{customer_id}/export":
                    assert response.status_code == (200 if role is Role.MANAGER else 403)
                    continue
                allowed = _allowed(role, example.params)
                for value in _forbidden_values(allowed):
                    assert value not in response.text, (role, example, value)
                outcomes[(role, f"{route} {example.params}")] = response.status_code
                if response.status_code != 200:
                    continue
                if route in ("/metrics", "/audiences/{name}/members.csv"):
                    continue  # Prometheus text: counters by stage, type and route only
                body = response.json()
                if route == "/customers/{customer_id}/profile":
                    assert _profile_fields(body) <= allowed, (role, example)
                    withheld = {n for names in body["withheld"].values() for n in names}
                    assert _profile_fields(body) | withheld == ESSENTIAL | SERVICE | RESTRICTED
                if route.endswith("/history"):
                    assert body["field"] in allowed, (role, example)
                if isinstance(body, dict) and body.get("audit_id") is not None:
                    audited.append((body["audit_id"], route, role, example.params))
                sensitive = (
                    _profile_fields(body) - ESSENTIAL
                    if route.endswith("/profile")
                    else ({body["field"]} - ESSENTIAL if route.endswith("/history") else set())
                )
                if sensitive:
                    assert body.get("audit_id") is not None, (role, example)

    # What was refused, to whom (a few that must be 403, a few that must be served).
    profile, history = (
        "/customers/{customer_id}/profile",
        "/customers/{customer_id}/profile/history",
    )
    assert (
        outcomes[(Role.AGENT, f"{profile} {{'reveal': 'restricted', 'reason': 'curious'}}")] == 403
    )
    assert (
        outcomes[(Role.MARKETING, f"{profile} {{'reveal': 'service', 'reason': {REASON!r}}}")]
        == 403
    )
    assert outcomes[(Role.MARKETING, "/customers {'query': 'Niamh'}")] == 403
    assert outcomes[(Role.MARKETING, "/customers/{key}/timeline {}")] == 403
    assert outcomes[(Role.AGENT, "/audit/access {}")] == 403
    for role, status in ((Role.AGENT, 403), (Role.MARKETING, 403), (Role.MANAGER, 200)):
        assert outcomes[(role, "/analytics/{report} {}")] == status
    assert outcomes[(Role.MARKETING, "/audit/access {}")] == 403
    for role in (Role.AGENT, Role.MARKETING):
        assert outcomes[(role, "/audit/data {}")] == 403
    assert outcomes[(Role.MANAGER, "/audit/data {}")] == 200
    assert outcomes[(Role.AGENT, f"{history} {{'field': 'nps'}}")] == 403
    assert outcomes[(Role.MARKETING, f"{history} {{'field': 'interests'}}")] == 200
    assert outcomes[(Role.MARKETING, f"{history} {{'field': 'emails'}}")] == 403
    assert outcomes[(Role.AGENT, "/customers {'query': 'siob'}")] == 200

    # Every audited read is in the audit, as who, with which fields and why.
    manager = {"Authorization": "Bearer t-manager"}
    records = []
    before: int | None = None
    while True:
        page = (
            await client.get(
                "/audit/access",
                params={"customer_id": CUSTOMER, "limit": 200}
                | ({"before_id": before} if before else {}),
                headers=manager,
            )
        ).json()
        records += page["records"]
        before = page["next_before_id"]
        if before is None:
            break
    by_id = {r["id"]: r for r in records}
    assert len(audited) > 60
    everyday = {Role.AGENT: "service", Role.MANAGER: "service", Role.MARKETING: "marketing"}
    for audit_id, route, role, params in audited:
        if audit_id not in by_id:  # a search, lookup or listing that found someone else
            assert route in ("/customers", "/lookup", "/triggers"), (route, params)
            continue
        record = by_id[audit_id]
        assert (record["who"], record["role"]) == (TOKENS[ROLE_TOKEN[role]].name, role.value)
        assert record["reason"] == params.get("reason", everyday[role])
        assert record["route"] == route
        assert (record["tier"] == "essential") == (not record["fields"]), record
        if route.endswith("/profile") and role is Role.MANAGER:
            assert set(record["fields"]) >= RESTRICTED
            assert record["tier"] == "restricted"
    reveals = [
        a
        for a in audited
        if a[2] is Role.AGENT and a[3].get("reveal") == "service" and by_id[a[0]]["fields"]
    ]
    # service histories (not tenure nor segments: no history), a timeline page, 2 profiles
    assert len(reveals) == len(SERVICE - {"tenure_days", "segments"}) + 1 + 2


async def test_no_token_is_401_an_unknown_token_too_and_a_refusal_names_what(
    client: httpx.AsyncClient,
) -> None:
    profile = f"/customers/{CUSTOMER}/profile"
    missing = await client.get(profile)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (await client.get(profile, headers={"Authorization": "Bearer nope"})).status_code == 401
    refused = await client.get(
        f"{profile}/history",
        params={"field": "date_of_birth", "reveal": "service", "reason": "checking"},
        headers={"Authorization": "Bearer t-agent"},
    )
    assert refused.status_code == 403
    assert "date_of_birth" in refused.json()["detail"]
    no_reason = await client.get(
        profile, params={"reveal": "service"}, headers={"Authorization": "Bearer t-agent"}
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["query", "reason"]
