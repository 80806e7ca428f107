"""``GET /metrics``: Prometheus's text format, parsed by its own parser, and counters that
move by exactly what a runner applied in the same process (as under ``touchlog up``)."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from consumers.memory import MemoryCheckpoints, MemoryLog, MemoryReader, MemoryWriter
from consumers.runner import ProjectionRunner, RunnerConfig
from producers.gateway import GatewayConfig, create_gateway
from projections.timeline.memory import MemoryTimeline
from tests.factories import event_dict

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_api_metrics_count_what_a_runner_applies_and_dead_letters() -> None:
    memory = MemoryLog()
    memory.create_topic("touchpoints", 2)
    memory.create_topic("deadletters", 1)
    for i in range(30):
        event = event_dict("call.logged", customer=f"metrics-{i % 7}")
        memory.append("touchpoints", f"k{i}".encode(), json.dumps(event).encode())
    memory.append("touchpoints", b"poison", b"not json")
    records = memory.records("touchpoints", 0) + memory.records("touchpoints", 1)
    config = RunnerConfig("memory", "touchpoints", "deadletters", "g", partitions=[0, 1])
    timeline = MemoryTimeline()
    runner = ProjectionRunner(
        config, timeline, MemoryCheckpoints(), MemoryReader(memory), MemoryWriter(memory)
    )
    await runner.prepare()
    app = create_app("postgresql://unused/")  # /metrics needs no database
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        before = await _scrape(client)
        await runner.apply_batch(records)
        after = await _scrape(client)

    stage = timeline.name
    projected = "touchlog_events_projected_total"
    lettered = "touchlog_events_dead_lettered_total"
    assert runner.applied == 30
    assert (
        _value(after, projected, stage=stage, type="call.logged")
        - _value(before, projected, stage=stage, type="call.logged")
        == 30
    )
    assert (
        _value(after, lettered, stage=stage, type="unknown")
        - _value(before, lettered, stage=stage, type="unknown")
        == 1
    )
    batches = "touchlog_batch_records_count"
    assert _value(after, batches, stage=stage) - _value(before, batches, stage=stage) == 1
    # The route's latency, under its template: the first scrape is counted by the second.
    assert (
        _value(
            after, "touchlog_http_request_seconds_count", app="api", method="GET", route="/metrics"
        )
        >= 1
    )


async def test_the_gateway_serves_metrics_by_route_template() -> None:
    app = create_gateway(GatewayConfig("unused:9092", "postgresql://unused/"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        await client.get("/no/such/route")
        samples = await _scrape(client)
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples
        if name == "touchlog_http_request_seconds_count" and ("app", "gateway") in labels
    }
    assert "unmatched" in routes
    assert "/no/such/route" not in routes
