"""Schemathesis against the gateway's own OpenAPI spec: no 5xx, and every answer is one the
spec documents (status, content type, headers, body schema) — for valid and invalid input.

The gateway runs on a real uvicorn server in this event loop; Schemathesis (synchronous)
drives it from a worker thread, a bounded number of examples per operation and mode.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.gateway_support import basic, gateway_app, served, write_key
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

EXAMPLES = 20  # per operation and generation mode: 19 runs of 20 examples
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _fuzz(spec: dict[str, Any], base_url: str, key: str) -> list[str]:
    """Every failure, as text (run in a thread: Schemathesis calls block)."""
    schema = schemathesis.openapi.from_dict(spec)
    auth = basic(key)
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the spec itself is valid
        operations.append(result.ok())
    assert len(operations) == 10
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if operation.method.upper() == "POST":  # a GET without parameters has nothing to negate
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
            def check(case: Any) -> None:
                case.call_and_validate(base_url=base_url, headers=auth, checks=CHECKS)

            try:
                check()
            except Exception:  # noqa: BLE001  # collected: every operation is fuzzed
                failures.append(f"{operation.label} ({mode.value}):\n{traceback.format_exc()}")
    return failures


async def test_fuzzed_requests_get_no_5xx_and_only_documented_answers(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])

    async with served(app) as url:
        failures = await asyncio.to_thread(_fuzz, app.openapi(), url, key)

    assert failures == [], "\n\n".join(failures)
