"""The HTTP gateway in tests: built on a test's topic and database, served in-process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

from events import Channel
from producers.gateway import SCHEMA, GatewayConfig, create_gateway
from producers.gateway import sources as gateway_sources
from projections.db import create_tables
from tests.integration.kafka_support import read_topic
from touchlog.embedded import free_port
from touchlog.http_server import EmbeddedServer

SYSTEM = "web-shop"


def gateway_app(bootstrap_servers: str, database_url: str, topic: str, **overrides: Any) -> FastAPI:
    return create_gateway(
        GatewayConfig(
            bootstrap_servers=bootstrap_servers,
            database_url=database_url,
            topic=topic,
            idempotence=False,  # the embedded broker rejects InitProducerId
            **overrides,
        )
    )


async def write_key(
    pool: asyncpg.Pool, system: str = SYSTEM, channel: Channel = Channel.WEB, **kw: Any
) -> str:
    async with pool.acquire() as conn:
        await create_tables(conn, SCHEMA)
    key, _ = await gateway_sources.add(pool, system, "retail", channel, **kw)
    return key


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@contextlib.asynccontextmanager
async def in_process(app: FastAPI, key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the app in-process (its lifespan started)."""
    headers = basic(key) if key else {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=headers
        ) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real uvicorn server on a free localhost port; yields its base URL."""
    port = free_port()
    server = EmbeddedServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await serving  # raises what stopped it
        raise RuntimeError("the gateway stopped before it was ready")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def logged_events(bootstrap_servers: str, topic: str) -> list[dict[str, Any]]:
    """Every event in the topic, decoded as JSON."""
    return [json.loads(r.value) for r in await read_topic(bootstrap_servers, topic)]
