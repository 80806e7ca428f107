"""Caller cards, read from the timeline of a customer and of those merged into it.

Essential tier only: name, title, pronunciation, last contact, open complaints.

A caller lookup answers while the phone rings: ``caller_cards`` finds the customers an
identifier leads to (merge chains followed up to the survivors, then down to every id
merged into them) and reads their cards in one statement, one round trip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.db import Queryable
from projections.timeline.postgres import TABLE


def _card_columns(keys: str) -> str:
    """The card's columns, for the subject keys in the text[] expression ``keys``."""
    return f"""
    (SELECT payload->'name' FROM {TABLE}
     WHERE subject_key = ANY({keys}) AND type = 'profile.updated' AND payload ? 'name'
     ORDER BY occurred_at DESC LIMIT 1) AS name,
    (SELECT row(occurred_at, type, channel) FROM {TABLE}
     WHERE subject_key = ANY({keys}) ORDER BY occurred_at DESC LIMIT 1) AS last_contact,
    (SELECT count(*) FROM (
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY({keys}) AND type = 'complaint.opened'
        EXCEPT
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY({keys}) AND type = 'complaint.resolved'
    ) open_cases) AS open_complaints"""


_CARD = f"SELECT {_card_columns('$1::text[]')}"

# ``UNION`` (not ``ALL``) in both recursions: a customer met twice is walked once. Each
# step is an indexed look-up (the primary key going up, identity_customers_merged_into
# going down): a lookup touches a handful of rows.
_CARDS = f"""
WITH RECURSIVE up AS (
    SELECT c.customer_id, c.merged_into FROM identity_links l
    JOIN identity_customers c USING (customer_id) WHERE l.identifier = $1
    UNION
    SELECT c.customer_id, c.merged_into FROM up
    JOIN identity_customers c ON c.customer_id = up.merged_into
), down AS (
    SELECT customer_id AS survivor, customer_id AS member FROM up WHERE merged_into IS NULL
    UNION
    SELECT down.survivor, c.customer_id FROM down
    JOIN identity_customers c ON c.merged_into = down.member
), members AS (
    SELECT survivor, array_agg(member) AS ids FROM down GROUP BY survivor
)
SELECT m.survivor, {_card_columns("m.ids")}
FROM members m
"""


async def caller_cards(conn: Queryable, identifier_key: str) -> list[dict[str, Any]]:
    """The card of every surviving customer ``identifier_key`` leads to, by customer id
    (as ``identity.postgres.candidates`` finds them). One round trip."""
    rows = await conn.fetch(_CARDS, identifier_key)
    return [_card(r["survivor"], r) for r in sorted(rows, key=lambda r: str(r["survivor"]))]


async def caller_card(conn: Queryable, customer_id: str, keys: Sequence[str]) -> dict[str, Any]:
    """``keys``: the customer and every id merged into it. One round trip."""
    return _card(customer_id, await conn.fetchrow(_CARD, list(keys)))


def _card(customer_id: str, row: Any) -> dict[str, Any]:
    name: dict[str, Any] = json.loads(row["name"]) if row and row["name"] else {}
    last = row["last_contact"] if row else None
    return {
        "customer_id": customer_id,
        "title": name.get("title"),
        "given_name": name.get("given_name"),
        "family_name": name.get("family_name"),
        "pronunciation": name.get("pronunciation"),
        "last_contact": {"at": last[0], "type": last[1], "channel": last[2]} if last else None,
        "open_complaints": row["open_complaints"] if row else 0,
    }
