"""touchlog's Prometheus metrics: their definitions, and the few ways they are observed.

One registry (``prometheus_client``'s default) per process: the API's and the gateway's
``GET /metrics`` serve it, and so every stage running in that process (``touchlog up``);
a process without an HTTP server of its own serves it on ``TOUCHLOG_METRICS_PORT``.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = ["CONTENT_TYPE_LATEST", "RouteLatency", "exposition", "serve_on"]

EVENTS_PUBLISHED = Counter(
    "touchlog_events_published",
    "Events the broker acknowledged, by publisher (gateway, sdk) and event type.",
    ["publisher", "type"],
)
EVENTS_PROJECTED = Counter(
    "touchlog_events_projected",
    "Events a stage applied to its view, by stage and event type.",
    ["stage", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "touchlog_events_dead_lettered",
    "Events a stage dead-lettered, by stage and event type (unknown: undecodable).",
    ["stage", "type"],
)
BATCH_RECORDS = Histogram(
    "touchlog_batch_records",
    "Records per committed batch.",
    ["stage"],
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000),
)
APPLY_SECONDS = Histogram(
    "touchlog_batch_apply_seconds",
    "Seconds a batch's transaction took: view changes, dead letters, offsets.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LAG_EVENTS = Gauge(
    "touchlog_lag_events",
    "Records between a stage's committed offset and the partition's end at its last fetch.",
    ["stage", "partition"],
)
LAG_SECONDS = Gauge(
    "touchlog_lag_seconds",
    "Age of the last record a stage committed, 0 once it reached the partition's end.",
    ["stage", "partition"],
)
TRIGGER_WORKER_RECORDS = Counter(
    "touchlog_trigger_worker_records",
    "Records the faust triggers worker processed, by kind (resolved, command).",
    ["kind"],
)
HTTP_SECONDS = Histogram(
    "touchlog_http_request_seconds",
    "HTTP request latency, by app (api, gateway), method and route template.",
    ["app", "method", "route"],
)


def exposition() -> bytes:
    """The registry in Prometheus's text format (``CONTENT_TYPE_LATEST``)."""
    return generate_latest()


def serve_on(port: int | None, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``port`` from a thread, for a process with no HTTP server."""
    if port is not None:
        start_http_server(port, addr=host)


def event_type(record: Any, event: Any = None) -> str:
    """A record's event type: its ``type`` header, else the decoded event's."""
    for key, value in getattr(record, "headers", None) or ():
        if key == "type":
            return bytes(value).decode(errors="replace")
    for candidate in (getattr(event, "event", None), event):  # a resolved event's first
        kind = getattr(candidate, "type", None)
        if isinstance(kind, str):
            return kind
    return "unknown"


def observe_batch(
    stage: str,
    records: Sequence[Any],
    decoded: Iterable[tuple[Any, Any]],
    dead_lettered: Iterable[tuple[int, int]],
    seconds: float,
) -> None:
    """A committed batch: ``decoded`` (record, event) pairs, of which the records at the
    (partition, offset) pairs ``dead_lettered`` were dead-lettered instead of applied."""
    letters = set(dead_lettered)
    pairs = list(decoded)
    projected: Tally[str] = Tally()
    rejected: Tally[str] = Tally()
    if not letters and len(pairs) == len(records):  # the common case, counted at once
        projected.update(event_type(r, e) for r, e in pairs)
    else:
        types = {(r.partition, r.offset): event_type(r, e) for r, e in pairs}
        for r in records:
            where = (r.partition, r.offset)
            kind = types.get(where) or event_type(r)
            (rejected if where in letters else projected)[kind] += 1
    for kind, n in projected.items():
        EVENTS_PROJECTED.labels(stage, kind).inc(n)
    for kind, n in rejected.items():
        EVENTS_DEAD_LETTERED.labels(stage, kind).inc(n)
    BATCH_RECORDS.labels(stage).observe(len(records))
    APPLY_SECONDS.labels(stage).observe(seconds)


def observe_lag(
    stage: str,
    topic: str,
    highwater: Callable[[TopicPartition], int | None],
    next_offsets: Mapping[int, int],
    records: Sequence[Any],
) -> None:
    """Lag from what the runner knows: each partition's end at its last fetch, and the
    timestamp of the last record committed (no extra request to the broker)."""
    newest: MutableMapping[int, int] = {}
    for r in records:
        newest[r.partition] = max(newest.get(r.partition, 0), r.timestamp)
    now_ms = time.time() * 1000
    for partition, offset in next_offsets.items():
        end = highwater(TopicPartition(topic, partition))
        behind = max(end - offset, 0) if end is not None else 0
        LAG_EVENTS.labels(stage, str(partition)).set(behind)
        age = (now_ms - newest[partition]) / 1000 if behind and partition in newest else 0.0
        LAG_SECONDS.labels(stage, str(partition)).set(max(age, 0.0))


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class RouteLatency:
    """ASGI middleware: each request's latency by route *template* (``/customers/{id}``),
    so that the series stay few; requests matching no route count as ``unmatched``."""

    def __init__(self, app: Asgi, app_name: str) -> None:
        self.app = app
        self.app_name = app_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_SECONDS.labels(self.app_name, scope["method"], route).observe(
                time.perf_counter() - started
            )
