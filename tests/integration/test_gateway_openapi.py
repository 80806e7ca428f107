"""Schemathesis against the gateway's own OpenAPI spec: no 5xx, and every answer is one the
spec documents (status, content type, headers, body schema) — for valid and invalid input.

The gateway runs on a real uvicorn server in this event loop; Schemathesis (synchronous)
drives it from a worker thread: a fixed number of examples per operation and mode, with
a fixed seed (``derandomize``), over 2,000 requests in all. Generating the examples is
most of the time, so the cheap ones (a single message, valid) get the largest share.
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

POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
BATCHES = ("POST /v1/events/batch", "POST /v1/batch")
# Examples per operation and generation mode: a batch costs several messages to generate.
EXAMPLES = {
    (POSITIVE, False): 200,
    (NEGATIVE, False): 60,
    (POSITIVE, True): 60,
    (NEGATIVE, True): 30,
}
MINIMUM_CASES = 2_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _fuzz(spec: dict[str, Any], base_url: str, key: str) -> tuple[list[str], int]:
    """Every failure, as text, and the number of requests sent (run in a thread:
    Schemathesis calls block)."""
    schema = schemathesis.openapi.from_dict(spec)
    auth = basic(key)
    failures: list[str] = []
    sent: list[int] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the spec itself is valid
        operations.append(result.ok())
    assert len(operations) == 11  # with GET /metrics
    for operation in operations:
        modes = [POSITIVE]
        if operation.method.upper() == "POST":  # a GET without parameters has nothing to negate
            modes.append(NEGATIVE)
        for mode in modes:

            @settings(
                max_examples=EXAMPLES[mode, operation.label in BATCHES],
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
                suppress_health_check=list(HealthCheck),
            )
            # The write key is sent with each call, not drawn with the case: generating
            # negative cases around fixed headers is several times slower.
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                sent.append(1)
                case.call_and_validate(base_url=base_url, headers=auth, checks=CHECKS)

            try:
                check()
            except Exception:  # noqa: BLE001  # collected: every operation is fuzzed
                failures.append(f"{operation.label} ({mode.value}):\n{traceback.format_exc()}")
    return failures, len(sent)


async def test_fuzzed_requests_get_no_5xx_and_only_documented_answers(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str, pool: asyncpg.Pool
) -> None:
    key = await write_key(pool)
    app = gateway_app(broker.bootstrap_servers, database_url, topics["touchpoints"])

    async with served(app) as url:
        failures, cases = await asyncio.to_thread(_fuzz, app.openapi(), url, key)

    assert failures == [], "\n\n".join(failures)
    assert cases >= MINIMUM_CASES
