"""Valid events into the log, each exactly once per ``(source, message_id)``, or a retry.

For each event of a request, in order:

1. an event with the same id already on its way (this request or another) is not sent
   again: the request waits for that one's outcome;
2. an id the ledger holds is a duplicate: accepted, not sent;
3. otherwise the event is sent; its acknowledgement (``acks=all``) makes it accepted;
   only then is its id recorded in the ledger. Until it is recorded it stays in memory
   as "on its way", so a retry arriving in between is still recognised.

A request waits ``timeout`` seconds for its acknowledgements: what is not acknowledged
by then is ``unavailable`` (the gateway answers 503 and the client retries). Sends are
never cancelled: an event the broker acknowledges after the answer is recorded like any
other, and the retry finds it. When more than ``max_pending`` events wait for the
broker, new requests are refused at once (``overloaded``, 429).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import asyncpg
import structlog

from events import Touchpoint
from producers.gateway.dedup import DedupLedger, Key
from producers.gateway.sink import LogSink

log = structlog.get_logger()


class Status(StrEnum):
    ACCEPTED = "accepted"
    """Acknowledged by the broker for this request."""
    DUPLICATE = "duplicate"
    """Already in the log (same source and message_id): accepted, not written again."""
    UNAVAILABLE = "unavailable"
    """Not acknowledged in time: retry (it may still land; the retry will find it)."""
    OVERLOADED = "overloaded"
    """Not attempted: too many events wait for the broker. Retry later."""


@dataclass(frozen=True, slots=True)
class Submission:
    event: Touchpoint
    deduplicate: bool
    """False when the gateway generated the message_id: nobody can retry it."""


class _Request:
    """One request's own events: it is answered when the last one is settled."""

    __slots__ = ("done", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.remaining = 0
        self.done: asyncio.Future[None] = loop.create_future()

    def taken(self) -> None:
        self.remaining += 1

    def all_taken(self) -> None:
        if self.remaining == 0:
            self.done.set_result(None)

    def settled(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.done.done():
            self.done.set_result(None)


@dataclass(slots=True, eq=False)
class _Claim:
    """An event this gateway is taking in, from the request that sent it."""

    key: Key
    event: Touchpoint
    deduplicate: bool
    request: _Request
    status: Status | None = None
    watched: asyncio.Future[Status] | None = None
    """For other requests with the same id: made only when one waits on it."""

    def watch(self) -> asyncio.Future[Status]:
        if self.watched is None:
            self.watched = asyncio.get_running_loop().create_future()
            if self.status is not None:
                self.watched.set_result(self.status)
        return self.watched


class Ingestor:
    def __init__(
        self,
        sink: LogSink,
        ledger: DedupLedger,
        *,
        timeout: float = 5.0,
        max_pending: int = 100_000,
    ) -> None:
        self._sink = sink
        self._ledger = ledger
        self.timeout = timeout
        self._max_pending = max_pending
        self._on_its_way: dict[Key, _Claim] = {}
        self._outstanding = 0  # claimed events without a final outcome yet
        self._sending: set[asyncio.Task[None]] = set()
        self._acks: set[asyncio.Future[Any]] = set()
        self._to_record: list[_Claim] = []  # acknowledged, for the recorder to write
        self._acknowledged_more = asyncio.Event()
        self._recorded = asyncio.Event()  # set while the recorder has nothing left to write

    @property
    def pending(self) -> int:
        """Events taken in and not yet acknowledged (nor found to be duplicates)."""
        return self._outstanding

    @contextlib.asynccontextmanager
    async def running(self, drain_timeout: float = 10.0) -> AsyncIterator[None]:
        """Record acknowledged ids while open; on exit, wait (bounded) for what is on its way."""
        recorder = asyncio.create_task(self._record_acknowledged())
        try:
            yield
        finally:
            waiting = [*self._sending, *self._acks]
            if waiting:
                await asyncio.wait(waiting, timeout=drain_timeout)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    while self._to_record or not self._recorded.is_set():
                        await self._recorded.wait()  # the last acknowledged ids are recorded
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder

    async def ingest(self, submissions: Sequence[Submission]) -> list[Status]:
        """Each submission's outcome, in order."""
        if not submissions:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if self._outstanding + len(submissions) > self._max_pending and self._overloaded_by(
            submissions
        ):
            log.warning("gateway_overloaded", pending=self._outstanding)
            return [Status.OVERLOADED] * len(submissions)

        request = _Request(loop)
        entries: list[_Claim | asyncio.Future[Status]] = []  # own claims, or others' outcomes
        claims: list[_Claim] = []
        for submission in submissions:
            event = submission.event
            key = (event.source.system, event.message_id)
            if submission.deduplicate and (on_its_way := self._on_its_way.get(key)) is not None:
                entries.append(on_its_way.watch())  # the same id, sent by another request
                continue
            claim = _Claim(key, event, submission.deduplicate, request)
            if submission.deduplicate:
                self._on_its_way[key] = claim
            request.taken()
            claims.append(claim)
            entries.append(claim)
        request.all_taken()
        self._outstanding += len(claims)

        if not await self._drop_seen(claims, deadline):
            for claim in claims:
                self._settle(claim, Status.UNAVAILABLE)
        to_send = [claim for claim in claims if claim.status is None]
        if to_send:
            task = asyncio.create_task(self._send(to_send))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

        waiting: list[asyncio.Future[Any]] = [
            e for e in entries if isinstance(e, asyncio.Future) and not e.done()
        ]
        if not request.done.done():
            waiting.append(request.done)
        if waiting:
            await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()))
        return [_status(entry) for entry in entries]

    def _overloaded_by(self, submissions: Sequence[Submission]) -> bool:
        """Whether the events not already on their way (a retry of those adds no load) would
        take the outstanding ones over the limit."""
        fresh = sum(
            1
            for s in submissions
            if not (
                s.deduplicate and (s.event.source.system, s.event.message_id) in self._on_its_way
            )
        )
        return fresh > 0 and self._outstanding + fresh > self._max_pending

    async def _drop_seen(self, claims: list[_Claim], deadline: float) -> bool:
        """Settle the claims the ledger already holds as duplicates; False if it can't say."""
        checked = [claim for claim in claims if claim.deduplicate]
        if not checked:
            return True
        try:
            async with asyncio.timeout_at(deadline):
                seen = await self._ledger.seen([claim.key for claim in checked])
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("dedup_lookup_failed", error=repr(exc), events=len(checked))
            return False
        for claim, was_seen in zip(checked, seen, strict=True):
            if was_seen:
                self._settle(claim, Status.DUPLICATE)
        return True

    def _settle(self, claim: _Claim, status: Status, *, keep_on_its_way: bool = False) -> None:
        """The claim's final outcome. Unless it waits to be recorded, the id is no longer
        on its way."""
        if claim.status is not None:
            return
        claim.status = status
        self._outstanding -= 1
        if claim.watched is not None and not claim.watched.done():
            claim.watched.set_result(status)
        claim.request.settled()
        if not keep_on_its_way and self._on_its_way.get(claim.key) is claim:
            del self._on_its_way[claim.key]

    async def _send(self, claims: list[_Claim]) -> None:
        if len(claims) == 1:  # lingers a moment to share a batch with other requests
            try:
                acks: list[asyncio.Future[Any] | None] = [await self._sink.send(claims[0].event)]
                error: Exception | None = None
            except Exception as exc:  # noqa: BLE001  # the waiting request is answered with it
                acks, error = [None], exc
        else:
            sent = await self._sink.send_many([claim.event for claim in claims])
            acks, error = sent.acks, sent.error
        if error is not None:
            log.error("publish_failed", error=repr(error), events=acks.count(None))
        # One callback per record batch, not per event: a batch's events share its future.
        by_ack: dict[int, tuple[asyncio.Future[Any], list[_Claim]]] = {}
        for claim, ack in zip(claims, acks, strict=True):
            if ack is None:
                self._settle(claim, Status.UNAVAILABLE)
            elif (group := by_ack.get(id(ack))) is not None:
                group[1].append(claim)
            else:
                by_ack[id(ack)] = (ack, [claim])
        for ack, members in by_ack.values():
            self._acks.add(ack)
            ack.add_done_callback(partial(self._acknowledged, members))

    def _acknowledged(self, claims: list[_Claim], ack: asyncio.Future[Any]) -> None:
        self._acks.discard(ack)
        if ack.cancelled() or ack.exception() is not None:
            error = "cancelled" if ack.cancelled() else repr(ack.exception())
            log.error("publish_failed", error=error, events=len(claims))
            for claim in claims:
                self._settle(claim, Status.UNAVAILABLE)
            return
        for claim in claims:
            self._settle(claim, Status.ACCEPTED, keep_on_its_way=claim.deduplicate)
        recorded = [claim for claim in claims if claim.deduplicate]
        if recorded:
            self._to_record += recorded
            self._recorded.clear()
            self._acknowledged_more.set()

    async def _record_acknowledged(self) -> None:
        """Write acknowledged ids to the ledger, in groups; retried with backoff, then logged."""
        while True:
            if not self._to_record:
                self._recorded.set()
                self._acknowledged_more.clear()
                await self._acknowledged_more.wait()
                continue
            group, self._to_record = self._to_record, []
            for attempt in itertools.count():
                try:
                    await self._ledger.record([claim.key for claim in group])
                    break
                except (OSError, asyncpg.PostgresError):
                    if attempt >= 5:
                        # In the log but not in the ledger: a retry of these would be sent
                        # again, and downstream deduplication by message_id absorbs it.
                        log.exception("dedup_record_failed", events=len(group))
                        break
                    await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
            for claim in group:
                if self._on_its_way.get(claim.key) is claim:
                    del self._on_its_way[claim.key]


def _status(entry: _Claim | asyncio.Future[Status]) -> Status:
    """An own claim's status; for another request's event with the same id, a duplicate
    once that one is in."""
    if isinstance(entry, _Claim):
        return entry.status or Status.UNAVAILABLE
    if not entry.done():
        return Status.UNAVAILABLE
    status = entry.result()
    return Status.DUPLICATE if status is Status.ACCEPTED else status
