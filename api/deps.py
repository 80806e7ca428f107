"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from projections.identity import IdentityRules


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]


def get_rules(request: Request) -> IdentityRules:
    rules: IdentityRules = request.app.state.rules
    return rules


Rules = Annotated[IdentityRules, Depends(get_rules)]
