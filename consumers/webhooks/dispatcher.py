"""Webhook delivery: POST each enqueued trigger to its subscribers, signed, until it lands.

``TriggerStore`` enqueues a pending delivery per (trigger, subscriber) in the runner's
transaction; the dispatcher claims due ones, POSTs the trigger's JSON, records every
attempt, and marks the delivery delivered on a 2xx. Anything else (an error status, a
timeout, a refused connection) is retried after an exponential backoff with jitter,
until ``max_attempts``; then the delivery is ``failed``. Deliveries are at least once:
receivers dedupe by ``X-Touchlog-Trigger-Id`` (see ``consumers.webhooks.signature``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import structlog

from consumers.outage import OUTAGE_TOLERANCE_S, Outage
from consumers.webhooks.config import Subscriber
from consumers.webhooks.deliveries import (
    Attempt,
    Claim,
    claim_due,
    record_attempt,
    seconds_to_next_due,
)
from consumers.webhooks.signature import (
    ATTEMPT_HEADER,
    SIGNATURE_HEADER,
    TRIGGER_ID_HEADER,
    sign,
)
from projections.db import DATABASE_UNAVAILABLE
from projections.profile.postgres import load_facts
from projections.triggers.contact import CONTACT_KINDS, with_contact
from projections.triggers.model import Kind, Trigger
from projections.triggers.postgres import WAKE_CHANNEL

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    poll_interval_s: float = 1.0
    """Longest wait between looks at the queue (a NOTIFY wakes the dispatcher sooner)."""
    request_timeout_s: float = 10.0
    backoff_base_s: float = 5.0
    """Delay after the first failed attempt; doubled after each further one."""
    backoff_max_s: float = 3600.0
    max_attempts: int = 10
    batch_size: int = 50
    """Deliveries claimed, and sent concurrently, at a time."""
    outage_tolerance_s: float = OUTAGE_TOLERANCE_S
    """How long an unreachable database is waited out before the dispatcher stops."""
    lease_margin_s: float = 30.0
    """A claimed delivery whose attempt was never recorded (the dispatcher lost its
    database, or died) is claimed again this long after its request could have timed out."""

    def retry_in(self, attempt: int) -> float | None:
        """Seconds until the next try after attempt number ``attempt`` failed; None: give up.

        "Equal jitter": half the backoff, plus a random part of the other half, so that
        deliveries that failed together do not all come back together.
        """
        if attempt >= self.max_attempts:
            return None
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  # jitter, not a secret


class WebhookDispatcher:
    """Sends what ``TriggerStore`` enqueued to the configured subscribers."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        subscribers: Sequence[Subscriber],
        config: DispatchConfig | None = None,
    ) -> None:
        self.pool = pool
        self.subscribers = {s.name: s for s in subscribers}
        self.config = config or DispatchConfig()
        self.delivered = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; the attempts in flight are finished and recorded."""
        if not self.subscribers:
            log.info("webhooks_idle", reason="no subscribers configured")
            await stop.wait()
            return
        wake = asyncio.Event()
        stopping = asyncio.create_task(_set_when(stop, wake))
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                self._listening(wake),
            ):
                log.info("webhooks_started", subscribers=sorted(self.subscribers))
                await self._loop(session, stop, wake)
        finally:
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping

    async def _loop(
        self, session: aiohttp.ClientSession, stop: asyncio.Event, wake: asyncio.Event
    ) -> None:
        names = sorted(self.subscribers)
        outage = Outage(self.config.outage_tolerance_s)
        while not stop.is_set():
            wake.clear()
            try:
                claims = await claim_due(
                    self.pool,
                    names,
                    limit=self.config.batch_size,
                    lease_s=self.config.request_timeout_s + self.config.lease_margin_s,
                )
                if claims:
                    sent = await asyncio.gather(
                        *(self._deliver(session, c) for c in claims), return_exceptions=True
                    )
                    # Every attempt is finished first: one that could not be recorded is
                    # sent again when its lease is over.
                    for outcome in sent:
                        if isinstance(outcome, BaseException):
                            raise outcome
                    outage.ended()
                    continue
                due_in = await seconds_to_next_due(self.pool, names)
                outage.ended()
            except DATABASE_UNAVAILABLE as exc:
                due_in = outage.failed()
                if due_in is None:
                    raise
                log.warning(
                    "webhooks_queue_unavailable",
                    error=repr(exc),
                    attempt=outage.failures,
                    outage_s=round(outage.lasted(), 1),
                )
            wait = self.config.poll_interval_s if due_in is None else max(0.01, due_in)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(wait, self.config.poll_interval_s))

    async def _deliver(self, session: aiohttp.ClientSession, claim: Claim) -> None:
        bound = log.bind(
            trigger_id=claim.trigger_id, subscriber=claim.subscriber, attempt=claim.attempt
        )
        attempt = await self._post(session, claim)
        delivered = attempt.http_status is not None and 200 <= attempt.http_status < 300
        retry_in = None if delivered else self.config.retry_in(claim.attempt)
        status = await record_attempt(self.pool, claim, attempt, retry_in_s=retry_in)
        if status == "delivered":
            self.delivered += 1
            bound.info("webhook_delivered", status=attempt.http_status, ms=attempt.duration_ms)
        elif status == "failed":
            self.failed += 1
            bound.error("webhook_gave_up", error=attempt.error, http_status=attempt.http_status)
        else:
            bound.warning(
                "webhook_attempt_failed",
                error=attempt.error,
                http_status=attempt.http_status,
                retry_in_s=round(retry_in or 0.0, 3),
            )

    async def _body(self, trigger: Trigger, subscriber: Subscriber) -> bytes:
        """The trigger's JSON; a marketing one with its channel's consented contact for a
        subscriber that asks for it (read from the profile when sent)."""
        if not subscriber.contact or trigger.kind is not Kind.MARKETING:
            return trigger.encode()
        facts = await load_facts(self.pool, [trigger.customer_id], kinds=CONTACT_KINDS)
        return with_contact(trigger, facts, datetime.now(UTC))

    async def _post(self, session: aiohttp.ClientSession, claim: Claim) -> Attempt:
        at = datetime.now(UTC)
        started = time.monotonic()

        def took() -> float:
            return round((time.monotonic() - started) * 1000, 3)

        if claim.trigger is None:
            return Attempt(at, took(), error="trigger not stored (a rebuild in progress?)")
        subscriber = self.subscribers[claim.subscriber]
        body = await self._body(claim.trigger, subscriber)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "touchlog-webhooks/1",
            SIGNATURE_HEADER: sign(subscriber.secret.get_secret_value(), body),
            TRIGGER_ID_HEADER: claim.trigger_id,
            ATTEMPT_HEADER: str(claim.attempt),
        }
        try:
            async with session.post(
                str(subscriber.url), data=body, headers=headers, allow_redirects=False
            ) as response:
                answer = await response.content.read(300)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Attempt(at, took(), error=_describe(exc))
        error = None
        if not 200 <= response.status < 300:
            error = f"HTTP {response.status}: {answer.decode(errors='replace')}".strip()
        return Attempt(at, took(), http_status=response.status, error=error)

    @contextlib.asynccontextmanager
    async def _listening(self, wake: asyncio.Event) -> AsyncIterator[None]:
        """Wake on ``NOTIFY`` (new deliveries committed); polling alone if LISTEN fails."""

        def notified(*_: Any) -> None:
            wake.set()

        try:
            conn = await self.pool.acquire()
        except DATABASE_UNAVAILABLE as exc:  # the loop waits the outage out
            log.warning("webhooks_listen_unavailable", error=repr(exc), fallback="polling")
            yield
            return
        listening = False
        try:
            await conn.add_listener(WAKE_CHANNEL, notified)
            listening = True
        except asyncpg.PostgresError as exc:
            log.warning("webhooks_listen_unavailable", error=repr(exc), fallback="polling")
        try:
            yield
        finally:
            # The connection may have been lost meanwhile (polling carried on).
            with contextlib.suppress(*DATABASE_UNAVAILABLE):
                if listening:
                    await conn.remove_listener(WAKE_CHANNEL, notified)
                await self.pool.release(conn)


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
