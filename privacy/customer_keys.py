"""A customer's own data key, for personal data touchlog writes about a customer itself.

Events are sealed with the keys of their subjects (``privacy.sealing.Sealer``). What
touchlog derives and publishes about a *customer* — the contact a marketing trigger
carries on ``touchlog.triggers`` — has no event subject: it is sealed with the customer's
key, the key of the subject ``customer:<customer_id>`` kept until erasure
(``Period(None, None)``). Its ref is recorded as one of the customer's subjects
(``privacy.subjects.record``) before anything is sealed with it, so that an erasure, which
shreds every ref of the customer (``privacy.subjects.refs_of``), shreds it too; readers
open it as any sealed field (``privacy.sealing.Opener``: ``"[erased]"`` once shredded).
"""

from __future__ import annotations

from typing import Any, Protocol

from privacy import subjects
from privacy.keys import KeyRing, Period
from privacy.sealing import seal_value

KEPT = Period(None, None)
"""A customer key's period: kept until the customer is erased."""

_REMEMBERED = 100_000


def customer_subject(customer_id: str) -> str:
    """The subject key (``KeyRing.subject_ref``'s argument) of a customer's own key."""
    if not customer_id:
        raise ValueError("customer_id: empty; a customer key needs the customer's id")
    return "customer:" + customer_id


class _Database(Protocol):
    async def execute(self, query: str, *args: Any) -> str: ...


class CustomerSealer:
    """Seals JSON-able values with customers' own keys (made on first use, cached by the
    ring); ``database`` records each customer's ref (a pool, or ``runtime.OwnPool``)."""

    def __init__(self, ring: KeyRing, database: _Database) -> None:
        self.ring = ring
        self.database = database
        self._recorded: set[str] = set()  # refs recorded by this process

    async def ref(self, customer_id: str) -> str:
        """The customer's ref, recorded as theirs (once per process)."""
        await self.ring.start()
        ref = self.ring.subject_ref(customer_subject(customer_id))
        if ref not in self._recorded:
            await subjects.record(self.database, [(ref, customer_id)])  # type: ignore[arg-type]
            if len(self._recorded) >= _REMEMBERED:
                self._recorded.clear()
            self._recorded.add(ref)
        return ref

    async def seal(self, customer_id: str, field: str, value: Any) -> str:
        """``value`` sealed for the field ``field`` (the associated data: it opens only
        under that name) with ``customer_id``'s key."""
        ref = await self.ref(customer_id)
        [(key_id, aead)] = (await self.ring.sealing_keys([(ref, KEPT)])).values()
        return seal_value(aead, key_id, field, value)
