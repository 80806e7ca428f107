"""The FastAPI application factory. Nothing connects until the app starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from api import customers, health, timeline
from projections.identity import IdentityRules


def create_app(database_url: str, rules: IdentityRules | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
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
    app.include_router(health.router)
    app.include_router(customers.router)
    app.include_router(timeline.router)
    return app
