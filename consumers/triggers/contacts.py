"""The contact a marketing trigger carries on ``touchlog.triggers``, sealed.

When the worker emits a marketing trigger with a channel, it reads that customer's
contact facts from the live profile (``projections.profile.postgres.load_facts`` on the
default schema's names, ``CONTACT_KINDS`` only: one query per marketing trigger emitted,
never per event), keeps the name and the channel's one detail if marketing is granted on
that channel (``projections.triggers.contact.contact_of``), and seals it with the
customer's own key (``privacy.customer_keys``): the log is immutable, and an erasure
shreds that key. No consent or no detail: ``contact: null``.

The profile never holds triggers up: if the database cannot answer within ``timeout``
seconds, the trigger is emitted without ``contact`` (``trigger_contact_unavailable`` in
the log) and no lookup is tried for ``pause`` seconds. Suppressed and service triggers
carry no contact (what a rep needs is in the API).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog

from privacy.customer_keys import CustomerSealer
from privacy.runtime import KeyStoreUnavailable
from projections.db import DATABASE_UNAVAILABLE
from projections.profile.postgres import load_facts
from projections.triggers.contact import CONTACT_KINDS, contact_of
from projections.triggers.model import Kind, Trigger

log = structlog.get_logger()

FIELD = "contact"
"""The field's name: the sealed value's associated data (it opens only as ``contact``)."""


class _Database(Protocol):
    async def fetch(self, query: str, *args: Any) -> Sequence[Any]: ...

    async def execute(self, query: str, *args: Any) -> str: ...


_FAILURES: tuple[type[Exception], ...] = (
    *DATABASE_UNAVAILABLE,  # TimeoutError included: no answer within ``timeout``
    asyncpg.PostgresError,  # the profile's tables missing, say
    KeyStoreUnavailable,
)


class ContactFeed:
    """Adds the sealed ``contact`` to the marketing triggers the worker emits.

    ``sealer`` None (``TOUCHLOG_SEAL_PERSONAL_DATA=false``): the contact goes in clear,
    as every personal field does in that mode."""

    def __init__(
        self,
        database: _Database,
        sealer: CustomerSealer | None,
        *,
        timeout: float = 5.0,
        pause: float = 10.0,
    ) -> None:
        self.database = database
        self.sealer = sealer
        self.timeout = timeout
        self.pause = pause
        self._paused_until = 0.0

    @staticmethod
    def wanted(trigger: Trigger) -> bool:
        return (
            trigger.kind is Kind.MARKETING
            and trigger.channel is not None
            and trigger.suppressed is None
        )

    async def attach(self, trigger: Trigger) -> Trigger:
        """``trigger`` with its ``contact`` (sealed, or null), or as it is when it needs
        none or the database cannot give one now."""
        if not self.wanted(trigger):
            return trigger
        if time.monotonic() < self._paused_until:
            log.warning(
                "trigger_contact_unavailable",
                trigger_id=trigger.trigger_id,
                error="the database failed a moment ago; not asked again yet",
            )
            return trigger
        try:
            contact = await asyncio.wait_for(self._contact(trigger), self.timeout)
        except _FAILURES as exc:
            self._paused_until = time.monotonic() + self.pause
            log.warning(
                "trigger_contact_unavailable",
                trigger_id=trigger.trigger_id,
                error=repr(exc),
                retry_in_s=self.pause,
            )
            return trigger
        return trigger.with_contact(contact)

    async def _contact(self, trigger: Trigger) -> str | dict[str, Any] | None:
        facts = await load_facts(
            self.database,  # type: ignore[arg-type]
            [trigger.customer_id],
            kinds=CONTACT_KINDS,
        )
        # Consent now, and at least at the trigger's own time (a replay, a manual clock).
        at = max(datetime.now(UTC), trigger.created_at)
        contact = contact_of(trigger.channel or "", facts, at)
        if contact is None or self.sealer is None:
            return contact
        return await self.sealer.seal(trigger.customer_id, FIELD, contact)
