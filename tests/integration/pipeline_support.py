"""Run the identity and timeline stages in-process on a test's topics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from events import InvalidEvent
from events.resolved import Resolved
from privacy.runtime import Keys, SealingConfig, resolved_decoder
from projections.identity import IdentityRules
from touchlog import bootstrap
from touchlog.settings import Settings


def pipeline_settings(topics: dict[str, str], **overrides: object) -> Settings:
    return Settings(
        topic_touchpoints=topics["touchpoints"],
        topic_resolved=topics["resolved"],
        topic_deadletter=topics["deadletter"],
        **{"consumer_group": f"g-{topics['touchpoints']}", **overrides},  # type: ignore[arg-type]
    )


def endpoints(bootstrap_servers: str, database_url: str) -> bootstrap.Endpoints:
    return bootstrap.Endpoints(bootstrap_servers, database_url, False, True, False)


@contextlib.asynccontextmanager
async def pipeline(
    settings: Settings,
    ends: bootstrap.Endpoints,
    pool: asyncpg.Pool,
    rules: IdentityRules | None = None,
    *,
    group: bool = False,
) -> AsyncIterator[None]:
    """Identity resolver, timeline and profile, reading all 6 partitions directly, or in
    consumer groups as ``touchlog up`` runs them (the triggers stage reads topics these
    tests do not create)."""
    await bootstrap.create_tables(pool)
    stop = asyncio.Event()
    task = asyncio.create_task(
        bootstrap.run_stages(
            settings,
            ends,
            pool,
            stop,
            stages=("identity", "timeline", "profile"),
            partitions=None if group else list(range(6)),
            rules=rules,
        )
    )
    try:
        yield
    finally:
        stop.set()
        await task


async def resolver_position(pool: asyncpg.Pool, topic: str) -> int:
    """Records of ``topic`` the identity resolver has committed, over all partitions."""
    value: int = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
        "WHERE consumer = 'identity_v1' AND topic = $1",
        topic,
    )
    return value


async def decode_resolved(pool: asyncpg.Pool, values: list[bytes | None]) -> list[Resolved]:
    """Records of ``touchlog.resolved`` opened (their keys in ``pool``) and decoded, as the
    views read them; raises the first that does not decode."""
    keys = Keys.on(SealingConfig.of(Settings()), pool)
    decoded = await resolved_decoder(keys.opener).decode_records(values)
    for outcome in decoded:
        if isinstance(outcome, InvalidEvent):
            raise outcome
    return [d for d in decoded if isinstance(d, Resolved)]


async def opened_records(pool: asyncpg.Pool, records: list[Any]) -> list[Any]:
    """Consumer records of ``touchlog.resolved`` with their sealed fields opened."""
    keys = Keys.on(SealingConfig.of(Settings()), pool)
    opened = await keys.opener.open_many([r.value for r in records])
    result = []
    for record, outcome in zip(records, opened, strict=True):
        if isinstance(outcome, InvalidEvent):
            raise outcome
        result.append(dataclasses.replace(record, value=outcome.value if outcome else None))
    return result
