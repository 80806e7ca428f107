"""The API that ``touchlog api`` and ``touchlog up`` serve can publish a manager's identity
decision from the screen: the composition root gives it the SDK's publisher."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.factories import make_event
from tests.integration.kafka_support import read_topic
from touchlog.cli_services import DecisionPublisher, api_config
from touchlog.embedded import EmbeddedBroker
from touchlog.settings import Settings

pytestmark = pytest.mark.integration


async def test_a_decision_from_the_screen_reaches_the_log(
    broker: EmbeddedBroker, topics: dict[str, str], database_url: str
) -> None:
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_idempotence=False,
        topic_touchpoints=topics["touchpoints"],
    )
    app = api_config(settings, database_url, {}).app
    assert isinstance(app, FastAPI)
    async with app.router.lifespan_context(app):
        publish = app.state.publish_decision
        assert isinstance(publish, DecisionPublisher)
        decision = make_event(customer="C-1", message_id="decided-1")
        await publish(decision)
        await publish(make_event(customer="C-1", message_id="decided-2"))  # one, reused
        values = [
            r.value for r in await read_topic(broker.bootstrap_servers, topics["touchpoints"])
        ]
        assert sum(b'"decided-1"' in v for v in values if v) == 1
        assert sum(b'"decided-2"' in v for v in values if v) == 1
        started = publish._publisher
        assert started is not None
    # The API's shutdown stopped the publisher it started (and its sealer's pool).
    assert publish._publisher is None
    assert started._producer._closed
