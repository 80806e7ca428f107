"""The co-purchase counts' PostgreSQL tables, how a batch adds to them, and their reads.

``reco_bought_v1`` remembers which categories each customer bought; only the rows a
batch's ``INSERT … ON CONFLICT DO NOTHING RETURNING`` reports as new are counted, so an
event applied twice counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from events import Touchpoint
from events.resolved import Resolved
from projections.db import Connection, Queryable, copy_insert
from projections.profile.facts import project_all
from projections.recommendations.copurchase import bought, increments
from projections.recommendations.snapshot import CoPurchases, PairRule
from projections.view import ViewHooks

BOUGHT = "reco_bought_v1"
CATEGORIES = "reco_categories_v1"
PAIRS = "reco_pairs_v1"
BUYERS = "reco_buyers_v1"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {BOUGHT} (
    customer_id  text NOT NULL,
    category     text NOT NULL,
    PRIMARY KEY (customer_id, category)
);
CREATE TABLE IF NOT EXISTS {CATEGORIES} (
    category   text   PRIMARY KEY,
    customers  bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {PAIRS} (
    bought     text   NOT NULL,
    also       text   NOT NULL,
    customers  bigint NOT NULL,
    PRIMARY KEY (bought, also)
);
CREATE TABLE IF NOT EXISTS {BUYERS} (
    id         int    PRIMARY KEY CHECK (id = 1),
    customers  bigint NOT NULL
);
COMMENT ON TABLE {BOUGHT} IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE {CATEGORIES} IS 'touchlog:no-personal-data (counts per category)';
COMMENT ON TABLE {PAIRS} IS 'touchlog:no-personal-data (counts per pair of categories)';
COMMENT ON TABLE {BUYERS} IS 'touchlog:no-personal-data (a count)';
"""


class CoPurchaseView(ViewHooks):
    """Co-purchase counts as the projection runner sees them."""

    name = PAIRS
    schema = (SCHEMA,)

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> dict[str, set[str]]:
        return bought(project_all(events))

    async def write(self, conn: Connection, found: dict[str, set[str]]) -> None:
        if not found:
            return
        rows = [(c, cat) for c, cats in sorted(found.items()) for cat in sorted(cats)]
        new_rows = await conn.fetch(
            f"INSERT INTO {BOUGHT} (customer_id, category) "
            "SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING "
            "RETURNING customer_id, category",
            [r[0] for r in rows],
            [r[1] for r in rows],
        )
        new: dict[str, set[str]] = {}
        for r in new_rows:
            new.setdefault(r["customer_id"], set()).add(r["category"])
        if not new:
            return
        before: dict[str, set[str]] = {}
        for r in await conn.fetch(
            f"SELECT customer_id, category FROM {BOUGHT} WHERE customer_id = ANY($1::text[])",
            list(new),
        ):
            if r["category"] not in new[r["customer_id"]]:
                before.setdefault(r["customer_id"], set()).add(r["category"])
        gained = increments(before, new)
        await copy_insert(
            conn,
            CATEGORIES,
            ("category", "customers"),
            sorted(gained.categories.items()),
            f"ON CONFLICT (category) DO UPDATE SET customers = {CATEGORIES}.customers + "
            "EXCLUDED.customers",
        )
        await copy_insert(
            conn,
            PAIRS,
            ("bought", "also", "customers"),
            sorted((x, y, n) for (x, y), n in gained.pairs.items()),
            f"ON CONFLICT (bought, also) DO UPDATE SET customers = {PAIRS}.customers + "
            "EXCLUDED.customers",
        )
        if gained.buyers:
            await conn.execute(
                f"INSERT INTO {BUYERS} (id, customers) VALUES (1, $1) ON CONFLICT (id) "
                f"DO UPDATE SET customers = {BUYERS}.customers + EXCLUDED.customers",
                gained.buyers,
            )


# --- reads -----------------------------------------------------------------------------

_RULES = f"""
SELECT p.also AS category,
       max(p.customers)::bigint AS together,
       max(p.customers::float8 / c.customers) AS confidence,
       max(p.customers::float8 / b.customers) AS support,
       max((p.customers::float8 / c.customers) / (y.customers::float8 / b.customers)) AS lift
FROM {PAIRS} p
JOIN {CATEGORIES} c ON c.category = p.bought
JOIN {CATEGORIES} y ON y.category = p.also
CROSS JOIN {BUYERS} b
WHERE p.bought = ANY($1::text[]) AND NOT (p.also = ANY($1::text[])) AND p.customers >= $2
GROUP BY p.also
ORDER BY confidence DESC, together DESC, p.also
LIMIT $3
"""


async def recommended(
    conn: Queryable, categories: Sequence[str], *, min_customers: int = 1, limit: int = 10
) -> list[dict[str, Any]]:
    """Categories not in ``categories`` that their buyers also bought, best first: by the
    confidence of the strongest rule from any of them, then by customers who bought both.
    ``min_customers``: the fewest customers who bought both for a rule to count."""
    try:
        rows = await conn.fetch(_RULES, list(categories), min_customers, limit)
    except asyncpg.UndefinedTableError:  # the recommendations stage never ran here
        return []
    return [dict(r) for r in rows]


async def categories_of(conn: Queryable, customer_ids: Sequence[str]) -> list[str]:
    try:
        rows = await conn.fetch(
            f"SELECT DISTINCT category FROM {BOUGHT} WHERE customer_id = ANY($1::text[]) "
            "ORDER BY category",
            list(customer_ids),
        )
    except asyncpg.UndefinedTableError:  # the recommendations stage never ran here
        return []
    return [r["category"] for r in rows]


# The strongest rules from each category: what the trigger worker keeps in memory. Read
# through the default schema's names, which always point at the live version.
_STRONGEST = f"""
SELECT bought, also, together, confidence, support, lift FROM (
    SELECT p.bought, p.also, p.customers AS together,
           p.customers::float8 / c.customers AS confidence,
           p.customers::float8 / b.customers AS support,
           (p.customers::float8 / c.customers) / (y.customers::float8 / b.customers) AS lift,
           row_number() OVER (
               PARTITION BY p.bought
               ORDER BY p.customers::float8 / c.customers DESC, p.customers DESC, p.also
           ) AS rank
    FROM {PAIRS} p
    JOIN {CATEGORIES} c ON c.category = p.bought
    JOIN {CATEGORIES} y ON y.category = p.also
    CROSS JOIN {BUYERS} b
    WHERE p.customers >= $1
) ranked
WHERE rank <= $2
ORDER BY bought, rank
"""


async def strongest_rules(
    conn: Queryable, *, per_category: int = 50, min_customers: int = 5
) -> CoPurchases:
    """Each category's ``per_category`` strongest rules with at least ``min_customers``
    customers who bought both, from the live version; empty if the stage never ran."""
    try:
        rows = await conn.fetch(_STRONGEST, min_customers, per_category)
    except asyncpg.UndefinedTableError:  # the recommendations stage never ran here
        rows = []
    loaded = await conn.fetchval("SELECT clock_timestamp()")
    return CoPurchases.of(
        (
            PairRule(
                r["bought"], r["also"], r["together"], r["confidence"], r["support"], r["lift"]
            )
            for r in rows
        ),
        loaded,
        per_category,
    )
