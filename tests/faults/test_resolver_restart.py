"""A restart of the resolver between two events does not change whom they resolve to.

Found by the ground-truth suite (``test_ground_truth.py``): after a SIGKILL of the resolver,
some events went to other customers than in a clean run of the same log. The smallest
log that shows it: a channel names a customer by ``customer_id`` and an email the graph
already holds; after a restart, an event naming only that ``customer_id`` comes first, then
one naming only the email. The resolver applies one record per transaction here, so that
each event meets the graph as the restarted process loaded it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from tests.factories import BASE_TIME, event_dict
from tests.integration.conftest import broker, master_key, new_database, server_url  # noqa: F401
from tests.integration.kafka_support import publish_in_order
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration


def _event(message_id: str, hours: int, **subject: Any) -> dict[str, Any]:
    data = event_dict(message_id=message_id, at=BASE_TIME + timedelta(hours=hours))
    data["subject"] = subject
    return data


SCENARIOS = {
    # The email is on two customers (one the channel's customer id): it stops matching.
    "shared email": [
        _event("x1", 1, email="ann@example.org"),
        _event("x2", 2, customer_id="CRM-1", email="ann@example.org"),
        _event("x3", 3, customer_id="CRM-1"),
        _event("x4", 4, email="ann@example.org"),
    ],
    # The email is the channel customer's only link: it leads to that customer.
    "customer's email": [
        _event("y1", 1, customer_id="CRM-2", email="bob@example.org"),
        _event("y2", 2, customer_id="CRM-2"),
        _event("y3", 3, email="bob@example.org"),
    ],
}


async def _resolve(
    bootstrap: str, topic_prefix: str, database_url: str, parts: list[list[dict[str, Any]]]
) -> dict[str, str]:
    """Message id → timeline subject, the stages stopped and started again between parts."""
    topics = {t: f"{topic_prefix}.{t}" for t in ("touchpoints", "resolved", "deadletter")}
    await ensure_topics(bootstrap, topics.values(), partitions=6)
    settings = pipeline_settings(topics, identity_batch_max_records=1)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)

    async def rows() -> list[Any]:
        try:
            return await pool.fetch("SELECT message_id, subject_key FROM timeline_v1")
        except asyncpg.UndefinedTableError:
            return []

    try:
        published = 0
        for part in parts:
            await publish_in_order(bootstrap, topics["touchpoints"], part)
            published += len(part)
            async with pipeline(settings, endpoints(bootstrap, database_url), pool):
                await eventually(
                    rows, lambda r, n=published: len(r) >= n, timeout=60, what=f"{published} rows"
                )
        return {r["message_id"]: r["subject_key"] for r in await rows()}
    finally:
        await pool.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_restart_between_events_resolves_them_as_an_uninterrupted_run(
    broker: EmbeddedBroker,  # noqa: F811
    new_database: Callable[[], Awaitable[str]],  # noqa: F811
    name: str,
) -> None:
    events = SCENARIOS[name]
    prefix = f"faults.restart.{uuid.uuid4().hex[:8]}"
    uninterrupted = await _resolve(
        broker.bootstrap_servers, prefix + ".once", await new_database(), [events]
    )
    restarted = await _resolve(
        broker.bootstrap_servers,
        prefix + ".restarted",
        await new_database(),
        [events[:2], events[2:]],
    )
    assert restarted == uninterrupted
