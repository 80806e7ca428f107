"""The identity graph's PostgreSQL tables: load the slice a batch needs, persist its changes,
and the reads a person's decisions need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple
from typing import Any

from events.touchpoints.identity import CustomerMergeRejected
from projections.db import Connection, Queryable, copy_insert
from projections.identity import family
from projections.identity.batches import MergeRecord, NotMatched
from projections.identity.names import NameKey
from projections.identity.records import Customer, GraphChanges, GraphRows

SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_customers (
    customer_id  text        PRIMARY KEY,
    born_at      timestamptz NOT NULL,
    born_from    text        NOT NULL,
    merged_into  text        REFERENCES identity_customers (customer_id)
);
CREATE INDEX IF NOT EXISTS identity_customers_merged_into
    ON identity_customers (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE IF NOT EXISTS identity_links (
    identifier     text        NOT NULL,
    customer_id    text        NOT NULL REFERENCES identity_customers (customer_id),
    source_system  text        NOT NULL,
    message_id     text        NOT NULL,
    linked_at      timestamptz NOT NULL,
    PRIMARY KEY (identifier, customer_id)
);
CREATE INDEX IF NOT EXISTS identity_links_customer ON identity_links (customer_id);
CREATE TABLE IF NOT EXISTS identity_kept_apart (
    a text NOT NULL, b text NOT NULL, PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS identity_merges (
    survivor    text        NOT NULL,
    merged      text        NOT NULL,
    reason      text        NOT NULL,
    message_id  text        NOT NULL,
    merged_at   timestamptz NOT NULL,
    PRIMARY KEY (message_id, merged)
);
CREATE TABLE IF NOT EXISTS identity_rejected_pairs (
    a            text        NOT NULL,
    b            text        NOT NULL,
    rejected_by  text        NOT NULL,
    reason       text,
    rejected_at  timestamptz NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE TABLE IF NOT EXISTS identity_shared (
    identifier   text        PRIMARY KEY,
    reason       text        NOT NULL,
    message_id   text        NOT NULL,
    detected_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_names (
    customer_id  text PRIMARY KEY REFERENCES identity_customers (customer_id),
    given_name   text NOT NULL,
    family_name  text NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_not_matched (
    identifier  text NOT NULL,
    reason      text NOT NULL,
    message_id  text NOT NULL,
    PRIMARY KEY (identifier, reason, message_id)
);
COMMENT ON TABLE identity_customers IS 'touchlog:no-personal-data (customer ids, merges)';
COMMENT ON TABLE identity_links IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE identity_kept_apart IS 'touchlog:no-personal-data (pairs of customer ids)';
COMMENT ON TABLE identity_merges IS
    'touchlog:personal customer=survivor,merged action=anonymise clear=reason';
COMMENT ON TABLE identity_rejected_pairs IS
    'touchlog:personal customer=a,b action=anonymise clear=reason';
COMMENT ON TABLE identity_shared IS 'touchlog:personal identifier=identifier action=delete';
COMMENT ON TABLE identity_names IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE identity_not_matched IS
    'touchlog:personal identifier=identifier action=delete';
"""
# identity_not_matched holds each event once (its message id), so an event published
# twice is reported once; how often an identifier was refused is a count of its rows.
# identity_shared holds the identifiers resolution found shared by people otherwise
# distinct (``graph.SHARED_WHEN_DISTINCT``), with the event that showed it.
# identity_names holds each customer record's name as resolution compares it (``NameKey``),
# from the first event that named it; never updated.


async def load_slice(
    conn: Connection, identifier_keys: Iterable[str], customer_ids: Iterable[str] = ()
) -> GraphRows:
    """The customers the identifiers lead to (and those named), up their merge chains to
    the survivors, down again to every customer merged into those survivors, all the
    links of all of them (per-customer limits count them), the kept-apart pairs, and
    which of the identifiers were found shared, and the customers' names."""
    wanted = sorted(set(identifier_keys))
    keyed = await conn.fetch(
        "SELECT DISTINCT customer_id FROM identity_links WHERE identifier = ANY($1::text[])",
        wanted,
    )
    rows = await family.members(conn, {r["customer_id"] for r in keyed} | set(customer_ids))
    involved = sorted(rows)
    links = await conn.fetch(
        "SELECT identifier, customer_id FROM identity_links WHERE customer_id = ANY($1::text[])",
        involved,
    )
    apart = await conn.fetch(
        "SELECT a, b FROM identity_kept_apart WHERE a = ANY($1::text[]) OR b = ANY($1::text[])",
        involved,
    )
    shared = await conn.fetch(
        "SELECT identifier FROM identity_shared WHERE identifier = ANY($1::text[])", wanted
    )
    names = await conn.fetch(
        "SELECT customer_id, given_name, family_name FROM identity_names "
        "WHERE customer_id = ANY($1::text[])",
        involved,
    )
    return GraphRows(
        links=[(r["identifier"], r["customer_id"]) for r in links],
        customers=[Customer(r["customer_id"], r["born_at"], r["born_from"]) for r in rows.values()],
        merged_into={c: r["merged_into"] for c, r in rows.items() if r["merged_into"]},
        kept_apart=[(r["a"], r["b"]) for r in apart],
        shared=[r["identifier"] for r in shared],
        names={r["customer_id"]: NameKey(r["given_name"], r["family_name"]) for r in names},
    )


_UNLINK = "DELETE FROM identity_links WHERE identifier = $1 AND customer_id = $2"
_MERGE_INTO = "UPDATE identity_customers SET merged_into = $2 WHERE customer_id = $1"
_KEEP_APART = "INSERT INTO identity_kept_apart (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_RECORD_MERGE = (
    "INSERT INTO identity_merges (survivor, merged, reason, message_id, merged_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
)
_REJECT = (
    "INSERT INTO identity_rejected_pairs (a, b, rejected_by, reason, rejected_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (a, b) DO UPDATE SET "
    "rejected_by = EXCLUDED.rejected_by, reason = EXCLUDED.reason, "
    "rejected_at = EXCLUDED.rejected_at"
)
_SHARED = (
    "INSERT INTO identity_shared (identifier, reason, message_id, detected_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
)
_NAME = (
    "INSERT INTO identity_names (customer_id, given_name, family_name) "
    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
)
_NOT_MATCHED = (
    "INSERT INTO identity_not_matched (identifier, reason, message_id) "
    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
)


def _rejected_pair(event: CustomerMergeRejected) -> tuple[Any, ...]:
    p = event.payload
    a, b = sorted((p.customer_id, p.other_customer_id))
    return (a, b, p.rejected_by, p.reason, event.occurred_at)


async def persist(
    conn: Connection,
    changes: GraphChanges,
    merges: Sequence[MergeRecord] = (),
    not_matched: Sequence[NotMatched] = (),
    rejected: Sequence[CustomerMergeRejected] = (),
) -> None:
    """Write a batch's graph changes and what it recorded beside them (merges made, pairs
    a person rejected, identifiers not matched); idempotent, so a replayed batch, or an
    event published twice, changes nothing."""
    await copy_insert(
        conn,
        "identity_customers",
        ("customer_id", "born_at", "born_from"),
        [(c.customer_id, c.born_at, c.born_from) for c in changes.customers],
    )
    await copy_insert(
        conn,
        "identity_links",
        ("identifier", "customer_id", "source_system", "message_id", "linked_at"),
        [
            (
                k.identifier_key,
                k.customer_id,
                k.ref.source_system,
                k.ref.message_id,
                k.ref.occurred_at,
            )
            for k in changes.links_added
        ],
    )
    if changes.unmerged:
        await conn.execute(
            "UPDATE identity_customers SET merged_into = NULL WHERE customer_id = ANY($1::text[])",
            list(changes.unmerged),
        )
    writes: tuple[tuple[str, Sequence[tuple[Any, ...]]], ...] = (
        (_UNLINK, changes.links_removed),
        (_MERGE_INTO, changes.merged_into),
        (_KEEP_APART, changes.kept_apart),
        (_RECORD_MERGE, [astuple(m) for m in merges]),
        (_REJECT, [_rejected_pair(r) for r in rejected]),
        (_NOT_MATCHED, [(n.identifier, n.reason, n.message_id) for n in not_matched]),
        (_NAME, [(c, n.given, n.family) for c, n in changes.names]),
        (
            _SHARED,
            [
                (m.identifier_key, m.reason, m.ref.message_id, m.ref.occurred_at)
                for m in changes.shared
            ],
        ),
    )
    for statement, rows in writes:
        if rows:
            await conn.executemany(statement, list(rows))


# --- reads -----------------------------------------------------------------------------


async def survivor_of(conn: Queryable, customer_id: str) -> str | None:
    """The surviving customer of an id (itself if never merged); None if unknown."""
    found = await family.family_of(conn, customer_id)
    return found.survivor if found else None


async def customers_for(conn: Queryable, identifier_key: str) -> list[str]:
    """Surviving customers an identifier leads to, sorted."""
    return [found.survivor for found in await family.families_for(conn, identifier_key)]


async def merged_ids(conn: Queryable, survivor: str) -> list[str]:
    """The survivor and every customer merged into it, directly or through a chain."""
    found = await family.family_of(conn, survivor)
    return found.ids if found else [survivor]


class StoredGraph:
    """The stored graph as a person's decisions read it (``decisions.GraphReads``)."""

    def __init__(self, conn: Queryable) -> None:
        self._conn = conn

    async def survivor_of(self, customer_id: str) -> str | None:
        return await survivor_of(self._conn, customer_id)

    async def older_first(self, customer_ids: Sequence[str]) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT customer_id FROM identity_customers WHERE customer_id = ANY($1::text[]) "
            "ORDER BY born_at, customer_id",
            list(customer_ids),
        )
        return [r["customer_id"] for r in rows]

    async def own_identifiers(self, customer_id: str) -> list[str]:
        """The identifiers linked to this customer record itself (not to those merged in)."""
        rows = await self._conn.fetch(
            "SELECT identifier FROM identity_links WHERE customer_id = $1 ORDER BY 1", customer_id
        )
        return [r["identifier"] for r in rows]

    async def last_merge(self, survivor: str, merged: str) -> str | None:
        """The message id of the latest merge of ``merged`` into ``survivor``, if any."""
        message_id: str | None = await self._conn.fetchval(
            "SELECT message_id FROM identity_merges WHERE survivor = $1 AND merged = $2 "
            "ORDER BY merged_at DESC, message_id DESC LIMIT 1",
            survivor,
            merged,
        )
        return message_id
