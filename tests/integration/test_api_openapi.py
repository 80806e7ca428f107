"""Schemathesis against the reps' API's own OpenAPI spec: no 5xx, and every answer is one
the spec documents (status code, content type, body schema), for valid and invalid input.

The API runs on a real uvicorn server in this event loop, over a real database holding a
few customers (one merged into another, two sharing a phone), their timelines, profiles
and triggers. Schemathesis (synchronous) drives it from a worker thread with a fixed seed:
most cases with a manager's token (every route is open to it), some with an agent's
(refusals) and some with none (401). Half of the cases that name a customer or a trigger
name one that exists, so the authorised paths are exercised, not only the 404s.
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from api.auth import Caller
from api.roles import Role
from events import Touchpoint, from_mapping
from privacy.erasure import Erasure
from privacy.keys import MasterKey
from projections.profile.postgres import ProfileView
from projections.timeline.postgres import TimelineView
from projections.triggers.postgres import TriggerStore
from projections.triggers.subscriptions import Subscription
from tests.factories import BASE_TIME, event_dict, make_event
from tests.integration.gateway_support import served
from tests.integration.trigger_support import make_trigger, store
from touchlog.bootstrap import create_tables

pytestmark = pytest.mark.integration

SEED = 15
MINIMUM_CASES = 2_000
TOKENS = {
    "t-manager": Caller("Max", Role.MANAGER),
    "t-agent": Caller("Ann", Role.AGENT),
}
# (headers, generation modes, examples per operation and mode)
RUNS: list[tuple[str, dict[str, str], list[schemathesis.GenerationMode], int]] = [
    (
        "manager",
        {"Authorization": "Bearer t-manager"},
        [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        80,
    ),
    ("agent", {"Authorization": "Bearer t-agent"}, [schemathesis.GenerationMode.POSITIVE], 25),
    ("no token", {}, [schemathesis.GenerationMode.POSITIVE], 8),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CUSTOMERS = ["cust-a", "cust-b", "cust-c", "phone:+33600000000", "email:a@example.com"]
BORN = datetime(2026, 1, 1, tzinfo=UTC)


async def _world(pool: asyncpg.Pool) -> list[str]:
    """Customers a, b (merged into a) and c, a and c sharing a phone; their timelines,
    profiles and triggers. The ids of the triggers."""
    await create_tables(pool)
    events = [
        make_event(
            kind,
            customer=customer,
            message_id=f"{customer}-{i}",
            at=BASE_TIME + timedelta(hours=i),
        )
        for customer in ("cust-a", "cust-b", "cust-c")
        for i, kind in enumerate(["call.logged", "purchase.completed", "complaint.opened"])
    ] + [_named(customer) for customer in ("cust-a", "cust-c")]
    async with pool.acquire() as conn, conn.transaction():
        await TimelineView().apply(conn, events)
        await ProfileView().apply(conn, events)
        await conn.executemany(
            "INSERT INTO identity_customers (customer_id, born_at, born_from, merged_into) "
            "VALUES ($1, $2, 'x', $3)",
            [("cust-a", BORN, None), ("cust-b", BORN, "cust-a"), ("cust-c", BORN, None)],
        )
        await conn.executemany(
            "INSERT INTO identity_links (identifier, customer_id, source_system, message_id, "
            "linked_at) VALUES ($1, $2, 'crm', $3, $4)",
            [
                ("email:a@example.com", "cust-a", "m1", BORN),
                ("phone:+33600000000", "cust-a", "m2", BORN),
                ("phone:+33600000000", "cust-c", "m3", BORN),
            ],
        )
    triggers = [
        make_trigger("cross-sell-tv", "cust-a"),
        make_trigger("service-reminder", "cust-c", created_at=BASE_TIME + timedelta(days=1)),
    ]
    await store(pool, triggers, TriggerStore([Subscription("crm")]))
    return [t.trigger_id for t in triggers]


def _named(customer: str) -> Touchpoint:
    data = event_dict(customer=customer, message_id=f"{customer}-named", at=BASE_TIME)
    name = {"title": "Ms", "given_name": "Siobhan", "family_name": customer}
    return from_mapping(data | {"type": "profile.updated", "payload": {"name": name}})


def _naming_existing(trigger_ids: list[str]) -> Callable[[Any], Any]:
    """A case with its path parameters replaced by ones that name a customer or trigger."""

    def replaced(case: Any) -> Any:
        names = {
            name: st.sampled_from(trigger_ids if name == "trigger_id" else CUSTOMERS)
            for name in case.path_parameters or {}
        }
        return st.fixed_dictionaries(names).map(
            lambda chosen: (case.path_parameters.update(chosen), case)[1]
        )

    return replaced


def _run(
    operation: Any,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    examples: int,
    base_url: str,
    existing: Callable[[Any], Any],
) -> int:
    """Fuzz one operation in one mode; how many cases ran (raises the first failure)."""
    strategy = operation.as_strategy(generation_mode=mode, headers=headers)
    if "{" in operation.path:
        strategy = st.one_of(strategy, strategy.flatmap(existing))
    cases = 0

    @seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        nonlocal cases
        cases += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    check()
    return cases


def _negatable(spec: dict[str, Any], operation: Any) -> bool:
    """Has it a query or a body to get wrong? (A path parameter made invalid names
    another route, and a route without parameters has nothing to negate.)"""
    documented = spec["paths"][operation.path][operation.method.lower()]
    queries = [p for p in documented.get("parameters", []) if p["in"] == "query"]
    return bool(queries) or "requestBody" in documented


def _fuzz(spec: dict[str, Any], base_url: str, trigger_ids: list[str]) -> tuple[int, list[str]]:
    """How many cases ran, and every failure as text (in a thread: Schemathesis blocks)."""
    schema = schemathesis.openapi.from_dict(spec)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the spec itself is valid
        operations.append(result.ok())
    failures: list[str] = []
    cases = 0
    existing = _naming_existing(trigger_ids)
    for who, headers, modes, examples in RUNS:
        for operation in operations:
            for mode in modes if _negatable(spec, operation) else modes[:1]:
                try:
                    cases += _run(operation, mode, headers, examples, base_url, existing)
                # Schemathesis' FailureGroup is a BaseExceptionGroup. Collected: every
                # operation is fuzzed.
                except (Exception, BaseExceptionGroup):  # noqa: BLE001
                    failures.append(
                        f"{operation.label} ({who}, {mode.value}):\n{traceback.format_exc()}"
                    )
    return cases, failures


async def test_fuzzed_requests_get_no_5xx_and_only_documented_answers(
    database_url: str, pool: asyncpg.Pool
) -> None:
    trigger_ids = await _world(pool)
    app = create_app(database_url, tokens=TOKENS)
    app.state.erasure = Erasure(MasterKey(os.urandom(32)))  # as `touchlog api` gives it

    started = time.monotonic()
    async with served(app) as url:
        cases, failures = await asyncio.to_thread(_fuzz, app.openapi(), url, trigger_ids)
    elapsed = time.monotonic() - started

    print(f"schemathesis: {cases} cases in {elapsed:.1f} s")
    assert failures == [], "\n\n".join(failures)
    assert cases >= MINIMUM_CASES
