"""Start an in-process timeline runner on test topics."""

from __future__ import annotations

from typing import Any

import asyncpg

from consumers.runner import ProjectionRunner, RunnerConfig
from projections.timeline.postgres import TimelineView
from tests.runner_contract import running
from touchlog.bootstrap import projection_runner

__all__ = ["make_runner", "running"]


def make_runner(
    pool: asyncpg.Pool, bootstrap: str, topics: dict[str, str], *, group: str | None = None
) -> ProjectionRunner[Any]:
    config = RunnerConfig(
        bootstrap_servers=bootstrap,
        topic=topics["touchpoints"],
        deadletter_topic=topics["deadletter"],
        group_id=group or "unused",
        idempotence=False,
        partitions=None if group else range(6),
    )
    return projection_runner(config, pool, TimelineView())
