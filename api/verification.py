"""Is the caller who they say they are? (seed 003) The rep types the answer the caller
gives to their memorable word or date; it is checked against the argon2id hash the
customer's profile holds (restricted tier: set by a ``profile.updated`` event carrying the
hash, never the answer). The answer itself is never stored, logged or echoed back.

Attempts are limited per customer (``MAX_FAILURES`` wrong answers lock verification for
``LOCK``) and every attempt, right or wrong, is recorded in the access audit. A verified
caller stays verified, for the rep who checked, for ``CALL_LENGTH``: the rest of the call.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import asyncpg
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api import audit_log
from api.auth import Caller
from api.errors import NotFound
from api.known_customers import seen_in_views
from api.roles import Refused, Role
from projections.db import Queryable
from projections.identity.family import family_of
from projections.profile import postgres as profiles
from projections.profile.fields import BY_NAME
from projections.profile.state import fold

log = structlog.get_logger()

MAX_FAILURES = 3
LOCK = 15 * 60.0
CALL_LENGTH = 30 * 60.0
FIELD = "verification"
_hasher = PasswordHasher()


class Outcome(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not_set"


def normalised(answer: str) -> str:
    """The form an answer is hashed and checked in: case, accents' composition, spaces and
    a date's separators do not matter (``12/03/1980`` = ``12-03-1980`` = ``12 03 1980``)."""
    text = unicodedata.normalize("NFKC", answer).casefold()
    for separator in "/.-":
        text = text.replace(separator, " ")
    return " ".join(text.split())


def hash_answer(answer: str) -> str:
    """What a channel system puts in ``profile.updated``'s ``verification.answer_hash``."""
    return _hasher.hash(normalised(answer))


@dataclass
class Attempts:
    """Wrong answers per customer, in this API process (a lock ends after ``LOCK``)."""

    failures: dict[str, list[float]] = field(default_factory=dict)

    def locked(self, customer_id: str, now: float) -> bool:
        recent = [t for t in self.failures.get(customer_id, []) if now - t < LOCK]
        self.failures[customer_id] = recent
        return len(recent) >= MAX_FAILURES

    def failed(self, customer_id: str, now: float) -> int:
        """Record a wrong answer; how many attempts remain."""
        self.failures.setdefault(customer_id, []).append(now)
        return max(0, MAX_FAILURES - len(self.failures[customer_id]))

    def cleared(self, customer_id: str) -> None:
        self.failures.pop(customer_id, None)


@dataclass
class VerifiedCalls:
    """Who verified whom, and until when (the rest of the call)."""

    until: dict[tuple[str, str], float] = field(default_factory=dict)
    attempts: Attempts = field(default_factory=Attempts)

    def holds(self, caller: Caller, customer_id: str) -> bool:
        return self.until.get((caller.name, customer_id), 0.0) > time.monotonic()

    def mark(self, caller: Caller, customer_id: str) -> None:
        self.until[(caller.name, customer_id)] = time.monotonic() + CALL_LENGTH


@dataclass(frozen=True, slots=True)
class Verdict:
    customer_id: str
    outcome: Outcome
    attempts_left: int
    audit_id: int | None


@dataclass(frozen=True)
class Verifier:
    pool: asyncpg.Pool
    calls: VerifiedCalls

    async def verify(self, caller: Caller, customer_id: str, answer: str) -> Verdict:
        """Check the caller's answer for ``customer_id``'s family (``NotFound``)."""
        if caller.role not in (Role.AGENT, Role.MANAGER):
            raise Refused("verifying callers is for agents and managers")
        now = time.monotonic()
        async with self.pool.acquire() as conn, conn.transaction():
            family = await family_of(conn, customer_id)
            survivor, ids = (
                (family.survivor, family.ids) if family else (customer_id, [customer_id])
            )
            secret = await _secret(conn, ids)
            if family is None and secret is None and not await seen_in_views(conn, customer_id):
                raise NotFound(f"no customer {customer_id}")
            outcome, left = self._check(survivor, secret, answer, now)
            access = audit_log.Access(
                caller.name,
                caller.role.value,
                survivor,
                "verify",
                [FIELD],
                outcome.value,
                None,
                tier=BY_NAME[FIELD].tier,
            )
            audit_id = await audit_log.record(conn, access)
        if outcome is Outcome.VERIFIED:
            self.calls.mark(caller, survivor)
        log.info(
            "caller_verification", customer_id=survivor, outcome=outcome.value, who=caller.name
        )
        return Verdict(survivor, outcome, left, audit_id)

    def _check(
        self, customer_id: str, secret: dict[str, Any] | None, answer: str, now: float
    ) -> tuple[Outcome, int]:
        attempts = self.calls.attempts
        if secret is None:
            return Outcome.NOT_SET, MAX_FAILURES
        if attempts.locked(customer_id, now):
            return Outcome.LOCKED, 0
        try:
            _hasher.verify(str(secret.get("answer_hash", "")), normalised(answer))
        except (VerificationError, InvalidHashError):
            left = attempts.failed(customer_id, now)
            return (Outcome.WRONG if left else Outcome.LOCKED), left
        attempts.cleared(customer_id)
        return Outcome.VERIFIED, MAX_FAILURES


async def _secret(conn: Queryable, ids: list[str]) -> dict[str, Any] | None:
    facts = await profiles.load_facts(conn, ids, None, kinds=[FIELD])
    if not facts:
        return None
    value = fold(facts).value_of(FIELD)  # the fact itself: the profile never shows the hash
    return value if isinstance(value, dict) else None
