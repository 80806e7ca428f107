"""Dead letters applied again after a fix, through the view of the stage that refused them.

Each letter is applied in its own transaction, in log order (topic, partition, offset),
exactly as the runner would have: the view's ``decode`` → ``changes`` → ``write``, whose
idempotence makes a letter applied twice harmless. The transaction locks the letter's
partition offset row first, so it never interleaves with a live runner's batch of that
partition. A letter that now applies leaves the list; one that still fails stays, with
its new reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from consumers.checkpoints import (
    PostgresCheckpoints,
    forget_dead_letter,
    lock_offsets,
    refail_dead_letter,
)
from consumers.deadletter import DeadLetter
from consumers.ports import Errors
from consumers.view import Unapplicable, View
from events import InvalidEvent
from events.codec import Codec
from projections import versions
from projections.db import Connection

log = structlog.get_logger()

REJECTIONS: Errors = (Unapplicable, *PostgresCheckpoints.rejections)
"""What a view raises for an event it refuses (as the runner sees it): a still-failing letter."""


@dataclass(frozen=True, slots=True)
class Replayed:
    applied: list[DeadLetter] = field(default_factory=list)
    still_failing: list[DeadLetter] = field(default_factory=list)
    """With their new reasons."""


def in_log_order(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    return sorted(letters, key=lambda d: (d.topic, d.partition, d.offset, d.consumer))


async def replay(
    pool: asyncpg.Pool,
    view: View[Connection],
    codec: Codec[Any],
    letters: Sequence[DeadLetter],
    *,
    versioned: str | None = None,
) -> Replayed:
    """Apply ``letters`` (all of ``view``'s stage) again, in log order; a ``versioned``
    view's (``projections/versions.py``) into its live version."""
    outcome = Replayed()
    live = None if versioned is None else await versions.live_version(pool, versioned)
    for letter in in_log_order(letters):
        reason = await _replay_one(pool, view, codec, letter, live or 1)
        if reason is None:
            outcome.applied.append(letter)
        else:
            outcome.still_failing.append(dataclasses.replace(letter, reason=reason))
        log.info(
            "dead_letter_replayed",
            consumer=letter.consumer,
            topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
            applied=reason is None,
        )
    return outcome


async def _replay_one(
    pool: asyncpg.Pool, view: View[Connection], codec: Codec[Any], letter: DeadLetter, live: int
) -> str | None:
    """The letter's new reason, or None if it applied (and left the list)."""
    if letter.id is None:
        raise ValueError(f"dead letter {letter.kafka_key()!r} was never stored")
    try:
        async with pool.acquire() as conn, conn.transaction():
            offsets = versions.consumer(letter.consumer, live)  # the live runner's rows
            await lock_offsets(conn, offsets, letter.topic, [letter.partition])
            reason = await _apply(conn, view, codec, letter)
            if reason is None:
                await forget_dead_letter(conn, letter.id)
            else:
                await refail_dead_letter(conn, letter.id, reason)
    except BaseException:
        view.reset()
        raise
    if reason is None:
        view.committed()
    else:
        view.reset()
    return reason


async def _apply(
    conn: Connection, view: View[Connection], codec: Codec[Any], letter: DeadLetter
) -> str | None:
    [event] = await view.decode([letter.value], codec)
    if isinstance(event, InvalidEvent):
        return f"invalid event: {event}"
    try:
        async with conn.transaction():  # a savepoint: the letter's reason is still written
            await view.write(conn, view.changes([event]))
    except REJECTIONS as exc:
        return f"view {view.name} rejected it: {exc}"
    return None
