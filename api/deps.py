"""FastAPI dependencies as ``Annotated`` aliases."""

# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, a hop
# that costs more than the work on the caller-lookup path.

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from projections.identity import IdentityRules


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]


async def get_rules(request: Request) -> IdentityRules:
    rules: IdentityRules = request.app.state.rules
    return rules


Rules = Annotated[IdentityRules, Depends(get_rules)]
