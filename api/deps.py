"""FastAPI dependencies as ``Annotated`` aliases."""

# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, a hop
# that costs more than the work on the caller-lookup path.

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from api.reads import CustomerReads
from api.trigger_desk import TriggerDesk


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]


async def get_reads(request: Request) -> CustomerReads:
    reads: CustomerReads = request.app.state.reads
    return reads


Reads = Annotated[CustomerReads, Depends(get_reads)]


async def get_desk(request: Request) -> TriggerDesk:
    desk: TriggerDesk = request.app.state.desk
    return desk


Desk = Annotated[TriggerDesk, Depends(get_desk)]
