"""Topic creation, idempotent: existing topics are left as they are."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = structlog.get_logger()


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    *,
    security: Mapping[str, Any] | None = None,
) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="touchlog-admin", **(security or {})
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            # Created concurrently by another process: that is the goal.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, partitions, replication_factor) for n in missing]
                )
            log.info("topics_created", topics=missing, partitions=partitions)
    finally:
        await admin.close()
