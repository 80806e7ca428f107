"""The FastAPI application factory. Nothing connects until the app starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from api import audit, customers, health, profile, search, timeline, triggers
from api.auth import Caller, TokenRegistry
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(
            database_url, min_size=1, max_size=10, reset=_nothing_to_reset
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="touchlog",
        summary="Every customer touchpoint, once, in order — timelines for reps.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.rules = rules or IdentityRules()
    app.state.tokens = TokenRegistry(tokens)
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(customers.router)
    app.include_router(timeline.router)
    app.include_router(profile.router)
    app.include_router(audit.router)
    app.include_router(triggers.router)
    return app
