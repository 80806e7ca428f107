"""The FastAPI application factory. Nothing connects until the app starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Response

from api import (
    audit,
    customers,
    errors,
    health,
    privacy,
    profile,
    search,
    timeline,
    triggers,
    web,
)
from api import status as operations_status
from api.analytics import router as analytics_router
from api.audience_lists import AudienceLists, NextBestOffer
from api.audiences import router as audiences_router
from api.auth import Caller, TokenRegistry
from api.reads import CustomerReads
from api.trigger_desk import TriggerDesk
from consumers import metrics
from projections.db import create_pool
from projections.identity import IdentityRules


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """The routes set no session state, take no session-level lock and leave no cursor
    or LISTEN open: a connection going back to the pool needs no ``RESET ALL`` round trip
    (a few hundred µs of a caller lookup). asyncpg still rolls back a transaction left
    open. A route that changes session state must undo it itself."""


def create_app(
    database_url: str,
    rules: IdentityRules | None = None,
    tokens: Mapping[str, Caller] | None = None,
) -> FastAPI:
    """``tokens``: API token → who holds it and their role. With none, every route but
    the health check answers 401."""
    identity_rules = rules or IdentityRules()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(database_url, min_size=1, max_size=10, reset=_nothing_to_reset)
        app.state.pool = pool
        app.state.reads = CustomerReads(pool, identity_rules)
        app.state.desk = TriggerDesk(pool)
        app.state.audience_lists = AudienceLists(pool)
        app.state.next_best_offer = NextBestOffer(pool)
        try:
            yield
        finally:
            # What the process that serves the API started beside it (``api_config``).
            for close in getattr(app.state, "on_shutdown", ()):
                await close()
            await pool.close()

    app = FastAPI(
        title="touchlog",
        summary="Every customer touchpoint, once, in order — timelines for reps.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.web from local files (works offline)
        redoc_url=None,
    )
    app.state.tokens = TokenRegistry(tokens)
    errors.install(app)
    for module in (health, search, customers, timeline, profile, audit, triggers, privacy):
        app.include_router(module.router)
    app.include_router(operations_status.router)
    app.include_router(analytics_router)
    app.include_router(audiences_router)
    web.mount(app)
    app.add_middleware(metrics.RouteLatency, app_name="api")

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of this process (with ``touchlog up``: every stage's too)."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)

    return app
