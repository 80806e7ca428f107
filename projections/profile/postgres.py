"""The profile's PostgreSQL tables and queries.

``profile_facts_v1`` holds every attribute value ever stated, keyed by the event that
stated it, so writing is append-only and idempotent (``COPY`` + ``ON CONFLICT DO
NOTHING``); a profile, as of any moment, is folded from a customer's rows at read time.
``profile_terms_v1`` finds customers by name word, email, phone and postcode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from events import Touchpoint
from events.resolved import Resolved
from events.touchpoints import CustomerErased
from projections.db import Connection, Queryable, copy_insert
from projections.profile.facts import Fact, project_all
from projections.profile.search import Lookup, terms_of
from projections.view import ViewHooks

FACTS = "profile_facts_v1"
TERMS = "profile_terms_v1"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {FACTS} (
    customer_id    text        NOT NULL,
    kind           text        NOT NULL,
    key            text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    source_system  text        NOT NULL,
    message_id     text        NOT NULL,
    event_type     text        NOT NULL,
    value          jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, kind, key, occurred_at, source_system, message_id)
);
CREATE TABLE IF NOT EXISTS {TERMS} (
    kind         text            NOT NULL,
    term         text COLLATE "C" NOT NULL,
    customer_id  text            NOT NULL,
    PRIMARY KEY (kind, term, customer_id)
);
COMMENT ON TABLE {FACTS} IS
    'touchlog:personal customer=customer_id action=delete at=occurred_at type=event_type';
COMMENT ON TABLE {TERMS} IS 'touchlog:personal customer=customer_id action=delete';
"""

_FACT_COLUMNS = (
    "customer_id",
    "kind",
    "key",
    "occurred_at",
    "source_system",
    "message_id",
    "event_type",
    "value",
)
_TERM_COLUMNS = ("kind", "term", "customer_id")


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    facts: list[tuple[object, ...]]
    terms: list[tuple[str, str, str]]
    erased: list[tuple[str, datetime]] = field(default_factory=list)
    """(customer, erased at) of each ``customer.erased``: their facts until then go, on a
    replay or rebuild too (docs/PRIVACY.md, Erasure)."""


def _erased(events: Sequence[Touchpoint | Resolved]) -> list[tuple[str, datetime]]:
    found = []
    for item in events:
        event = item.event if isinstance(item, Resolved) else item
        if isinstance(event, CustomerErased):
            p = event.payload
            found += [(c, p.erased_at) for c in (p.customer_id, *p.merged_customer_ids)]
    return found


class ProfileView(ViewHooks):
    """The profile as the projection runner sees it: create tables, apply a batch."""

    name = FACTS

    def __init__(self, default_region: str = "FR") -> None:
        self.default_region = default_region

    schema = (SCHEMA,)

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> ProfileChanges:
        """COPY-ready rows (pure: runs while the previous batch is being written)."""
        facts = project_all(events)
        terms = {
            (kind, term, fact.customer_id)
            for fact in facts
            for kind, term in terms_of(fact, self.default_region)
        }
        return ProfileChanges(
            [
                (
                    f.customer_id,
                    f.kind,
                    f.key,
                    f.occurred_at,
                    f.source_system,
                    f.message_id,
                    f.event_type,
                    f.value_json(),
                )
                for f in facts
            ],
            sorted(terms),
            _erased(events),
        )

    async def write(self, conn: Connection, changes: ProfileChanges) -> None:
        await copy_insert(conn, FACTS, _FACT_COLUMNS, changes.facts)
        await copy_insert(conn, TERMS, _TERM_COLUMNS, changes.terms)
        if changes.erased:
            customers = [c for c, _ in changes.erased]
            await conn.execute(
                f"DELETE FROM {FACTS} f USING unnest($1::text[], $2::timestamptz[]) "
                "AS e(customer_id, erased_at) "
                "WHERE f.customer_id = e.customer_id AND f.occurred_at <= e.erased_at",
                customers,
                [at for _, at in changes.erased],
            )
            await conn.execute(
                f"DELETE FROM {TERMS} WHERE customer_id = ANY($1::text[])", customers
            )

    async def apply(self, conn: Connection, events: Sequence[Touchpoint | Resolved]) -> None:
        """Project and write in one go (tests and one-off loads)."""
        await self.write(conn, self.changes(events))


# --- reads -----------------------------------------------------------------------------


async def load_facts(
    conn: Queryable,
    customer_ids: Sequence[str],
    as_of: datetime | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Fact]:
    """The facts of these customers (a survivor and those merged into it), up to ``as_of``,
    of the given kinds only if any are given."""
    rows = await conn.fetch(
        f"SELECT customer_id, kind, key, occurred_at, source_system, message_id, event_type, "
        f"value::text AS value FROM {FACTS} "
        f"WHERE customer_id = ANY($1::text[]) AND ($2::timestamptz IS NULL OR occurred_at <= $2) "
        f"AND ($3::text[] IS NULL OR kind = ANY($3::text[]))",
        list(customer_ids),
        as_of,
        None if kinds is None else list(kinds),
    )
    return [
        Fact(
            r["customer_id"],
            r["kind"],
            r["key"],
            r["occurred_at"],
            r["source_system"],
            r["message_id"],
            r["event_type"],
            json.loads(r["value"]),
        )
        for r in rows
    ]


async def has_facts(conn: Queryable, customer_id: str) -> bool:
    found: bool = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {FACTS} WHERE customer_id = $1)", customer_id
    )
    return found


def _like_prefix(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def find(
    conn: Queryable, readings: Sequence[Sequence[Lookup]], limit: int
) -> dict[str, set[str]]:
    """Customer ids matching any reading (every lookup of it), with the kinds matched."""
    found: dict[str, set[str]] = {}
    for reading in readings:
        matched: set[str] | None = None
        for lookup in reading:
            if lookup.prefix:
                rows = await conn.fetch(
                    f"SELECT DISTINCT customer_id FROM {TERMS} "
                    f"WHERE kind = $1 AND term LIKE $2 LIMIT $3",
                    lookup.kind,
                    _like_prefix(lookup.term),
                    limit * 50,
                )
            else:
                rows = await conn.fetch(
                    f"SELECT customer_id FROM {TERMS} WHERE kind = $1 AND term = $2 LIMIT $3",
                    lookup.kind,
                    lookup.term,
                    limit * 50,
                )
            ids = {r["customer_id"] for r in rows}
            matched = ids if matched is None else matched & ids
        for customer_id in sorted(matched or ()):
            found.setdefault(customer_id, set()).update(lookup.kind for lookup in reading)
    return found


async def count_facts(conn: Queryable) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {FACTS}")
    return value
