"""Which data subjects (by ref) belong to which customer, and which subjects are erased.

The resolver records, in its transaction, the ref of every subject it resolves and the
customer it gave it (``record``). Erasure reads them back for a customer and every
customer merged into it (``refs_of``), shreds their keys and records each ref in
``privacy_erasures`` (``erase``), which is never rebuilt: an event whose subject reads
``[erased]`` is resolved to the customer found there, so that a rebuild of identity after
an erasure keeps the customer's id.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from projections.db import Connection, Queryable

SCHEMA = """
CREATE TABLE IF NOT EXISTS privacy_subjects (
    subject_ref text NOT NULL,
    customer_id text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, subject_ref)
);
COMMENT ON TABLE privacy_subjects IS
    'touchlog:no-personal-data (keyed hashes of subjects and customer ids)';
CREATE INDEX IF NOT EXISTS privacy_subjects_ref ON privacy_subjects (subject_ref);
CREATE TABLE IF NOT EXISTS privacy_erasures (
    subject_ref text PRIMARY KEY,
    customer_id text NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE privacy_erasures IS
    'touchlog:no-personal-data (keyed hashes of erased subjects and their customer ids)';
"""


async def record(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """(subject_ref, customer_id) pairs seen by the resolver; idempotent."""
    unique = sorted(set(pairs))
    if not unique:
        return
    await conn.execute(
        "INSERT INTO privacy_subjects (subject_ref, customer_id) "
        "SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        [ref for ref, _ in unique],
        [customer for _, customer in unique],
    )


async def refs_of(db: Queryable, customer_ids: Collection[str]) -> list[str]:
    """Every subject ref recorded for these customers (pass merged customers too)."""
    rows = await db.fetch(
        "SELECT DISTINCT subject_ref FROM privacy_subjects WHERE customer_id = ANY($1::text[]) "
        "ORDER BY subject_ref",
        list(customer_ids),
    )
    return [r["subject_ref"] for r in rows]


async def erase(conn: Connection, customer_id: str, refs: Collection[str]) -> None:
    """Record ``refs`` as erased subjects of ``customer_id``."""
    await conn.execute(
        "INSERT INTO privacy_erasures (subject_ref, customer_id) "
        "SELECT ref, $2 FROM unnest($1::text[]) AS ref "
        "ON CONFLICT (subject_ref) DO UPDATE SET customer_id = EXCLUDED.customer_id",
        list(refs),
        customer_id,
    )


async def erased_customers(db: Queryable, refs: Collection[str]) -> dict[str, str]:
    """Erased subject ref → its customer, for the refs given that were erased."""
    if not refs:
        return {}
    rows = await db.fetch(
        "SELECT subject_ref, customer_id FROM privacy_erasures WHERE subject_ref = ANY($1::text[])",
        list(refs),
    )
    return {r["subject_ref"]: r["customer_id"] for r in rows}
