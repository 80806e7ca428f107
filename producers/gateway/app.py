"""The gateway's FastAPI application factory. Nothing connects until the app starts."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from consumers import metrics
from events import Touchpoint, topics
from privacy.runtime import Keys, SealingConfig
from privacy.runtime import create_tables as create_privacy_tables
from producers.gateway import native_routes, segment_routes
from producers.gateway.dedup import DEFAULT_WINDOW, DedupLedger
from producers.gateway.ingest import Ingestor
from producers.gateway.limits import Limits
from producers.gateway.problems import GatewayError, Problem
from producers.gateway.schemas import SEGMENT_MESSAGES, Health, SegmentBatch, native_event_schema
from producers.gateway.service import Gateway
from producers.gateway.sink import LogSink, Sent
from producers.gateway.sources import SourceRegistry
from producers.gateway.track_rules import BUILTIN, TrackRule
from projections.db import create_pool

log = structlog.get_logger()


@dataclass(frozen=True)
class GatewayConfig:
    bootstrap_servers: str
    database_url: str
    topic: str = topics.TOUCHPOINTS
    idempotence: bool = True
    publish_timeout: float = 5.0
    """Seconds a request waits for the broker's acknowledgements before a 503."""
    retry_after: int = 5
    dedup_window: timedelta = DEFAULT_WINDOW
    max_pending: int = 100_000
    """Events waiting for acknowledgement beyond which requests get a 429."""
    key_cache_seconds: float = 60.0
    track_rules: Mapping[str, TrackRule] = field(default_factory=lambda: dict(BUILTIN))
    limits: Limits = field(default_factory=Limits)
    prune_every: timedelta = timedelta(hours=1)
    kafka_security: Mapping[str, Any] | None = None
    """TLS / SASL options of the log sink's producer."""
    sealing: SealingConfig | None = None
    """Seal personal fields before they reach the log (docs/PRIVACY.md); None: in clear."""


def create_gateway(config: GatewayConfig) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            pool = await create_pool(config.database_url, min_size=2, max_size=8)
            stack.push_async_callback(pool.close)
            sealer = None
            if config.sealing is not None and config.sealing.seal:
                async with pool.acquire() as conn:
                    await create_privacy_tables(conn)
                sealer = Keys.on(config.sealing, pool).sealer
            sink = CountedSink(
                config.bootstrap_servers,
                config.topic,
                idempotence=config.idempotence,
                security=config.kafka_security,
                sealer=sealer,
            )
            await sink.start()
            stack.push_async_callback(sink.stop)
            registry = SourceRegistry(pool, ttl=config.key_cache_seconds)
            await registry.start()
            stack.push_async_callback(registry.stop)
            ledger = DedupLedger(pool, config.dedup_window)
            await stack.enter_async_context(ledger.serving())
            ingestor = Ingestor(
                sink, ledger, timeout=config.publish_timeout, max_pending=config.max_pending
            )
            await stack.enter_async_context(ingestor.running())
            await stack.enter_async_context(_pruning(ledger, config.prune_every))
            app.state.registry = registry
            app.state.gateway = Gateway(
                ingestor, config.track_rules, config.limits, config.retry_after
            )
            log.info("gateway_started", topic=config.topic, limits=config.limits.describe())
            yield

    app = FastAPI(
        title="touchlog gateway",
        summary="Touchpoints over HTTP — touchlog's envelope or Segment's tracking API — "
        "into the log, each once.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(native_routes.router)
    app.include_router(segment_routes.router)

    @app.get("/healthz", tags=["operations"], response_model=Health)
    async def healthz(request: Request) -> Health:
        gateway: Gateway = request.app.state.gateway
        return Health(status="ok", pending=gateway.ingestor.pending)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of the gateway's process."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)

    app.add_middleware(metrics.RouteLatency, app_name="gateway")

    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class CountedSink(LogSink):
    """The log sink, counting the events the broker acknowledged by type: one callback per
    record batch (its events share one future), not one per event."""

    async def send_many(self, events: Sequence[Touchpoint]) -> Sent:
        sent = await super().send_many(events)
        by_ack: dict[int, tuple[asyncio.Future[Any], list[str]]] = {}
        for event, ack in zip(events, sent.acks, strict=True):
            if ack is not None:
                by_ack.setdefault(id(ack), (ack, []))[1].append(event.type)
        for ack, types in by_ack.values():
            ack.add_done_callback(partial(_count_published, types))
        return sent

    async def send(self, event: Touchpoint) -> asyncio.Future[Any]:
        ack = await super().send(event)
        ack.add_done_callback(partial(_count_published, [event.type]))
        return ack


def _count_published(types: list[str], ack: asyncio.Future[Any]) -> None:
    if ack.cancelled() or ack.exception() is not None:
        return
    for kind, n in Counter(types).items():
        metrics.EVENTS_PUBLISHED.labels("gateway", kind).inc(n)


@contextlib.asynccontextmanager
async def _pruning(ledger: DedupLedger, every: timedelta) -> AsyncIterator[None]:
    async def prune_forever() -> None:
        while True:
            try:
                pruned = await ledger.prune()
                log.info("dedup_pruned", ids=pruned, window=str(ledger.window))
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("dedup_prune_failed", error=repr(exc))
            await asyncio.sleep(every.total_seconds())

    task = asyncio.create_task(prune_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _problem(
    status: int, problem: Problem, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(problem.model_dump(), status, headers=dict(headers or {}))


async def _gateway_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)  # noqa: S101  # registered for this type only
    return _problem(exc.status, exc.problem, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101  # registered for this type only
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _problem(exc.status_code, Problem(code=code, message=str(exc.detail)), exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101  # registered for this type only
    return _problem(400, Problem(code="bad_request", message=str(exc.errors())))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, plus the request bodies the routes read themselves."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    native = native_event_schema()
    schemas.update(_hoisted(native.pop("$defs", {})))
    schemas["NativeEvent"] = _hoisted(native)
    schemas["NativeBatch"] = {
        "title": "Native batch",
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"$ref": "#/components/schemas/NativeEvent"},
            }
        },
    }
    for call, model in SEGMENT_MESSAGES.items():
        schemas[f"Segment{call.title()}"] = _component(model, schemas)
    schemas["SegmentBatch"] = _component(SegmentBatch, schemas)
    app.openapi_schema = spec
    return spec


def _component(model: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(generated.pop("$defs", {}))
    return dict(generated)


def _hoisted(node: Any) -> Any:
    """A JSON Schema with its ``#/$defs/`` references pointing at the spec's components."""
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _hoisted(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hoisted(v) for v in node]
    return node
