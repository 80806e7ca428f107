"""Caller cards, read from the timeline of a customer and of those merged into it.

Essential tier only: name, title, pronunciation, last contact, open complaints.

A caller lookup answers while the phone rings. Usually everyone an identifier leads to is
a family of one (never merged, nobody merged into them): then one statement finds them,
their cards and whether resolution found the identifier shared. Otherwise the families are
followed (``projections.identity.family``) and their cards read in one more statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.db import Queryable
from projections.identity.family import families_for
from projections.timeline.postgres import TABLE


def _card_columns(keys: str) -> str:
    """The card's columns, for the subject keys in the text[] expression ``keys``."""
    return f"""
    (SELECT payload->'name' FROM {TABLE}
     WHERE subject_key = ANY({keys}) AND type = 'profile.updated' AND payload ? 'name'
     ORDER BY occurred_at DESC LIMIT 1) AS name,
    (SELECT row(occurred_at, type, channel) FROM {TABLE}
     WHERE subject_key = ANY({keys}) AND type NOT LIKE 'relationship.%'
     ORDER BY occurred_at DESC LIMIT 1) AS last_contact,
    (SELECT count(*) FROM (
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY({keys}) AND type = 'complaint.opened'
        EXCEPT
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY({keys}) AND type = 'complaint.resolved'
    ) open_cases) AS open_complaints"""


_CARD = f"SELECT {_card_columns('$1::text[]')}"

# One row per family: the pairs (survivor, member) are grouped back into each family's ids.
_CARDS = f"""
WITH members AS (
    SELECT survivor, array_agg(member) AS ids
    FROM unnest($1::text[], $2::text[]) AS m(survivor, member) GROUP BY survivor
)
SELECT m.survivor, {_card_columns("m.ids")},
    EXISTS (SELECT 1 FROM identity_shared WHERE identifier = $3) AS shared
FROM members m
"""


# Everyone the identifier is linked to, whether each is a family of one, and their cards.
_ALONE = f"""
WITH linked AS (
    SELECT c.customer_id, c.merged_into IS NULL AND NOT EXISTS (
        SELECT 1 FROM identity_customers d WHERE d.merged_into = c.customer_id
    ) AS alone
    FROM identity_links l JOIN identity_customers c USING (customer_id)
    WHERE l.identifier = $1
)
SELECT l.customer_id AS survivor, l.alone, {_card_columns("ARRAY[l.customer_id]")},
    EXISTS (SELECT 1 FROM identity_shared WHERE identifier = $1) AS shared
FROM linked l
"""


@dataclass(frozen=True, slots=True)
class CallerLookup:
    cards: list[dict[str, Any]]
    """The card of every surviving customer the identifier leads to, by customer id."""
    shared: bool
    """Resolution found the identifier on people otherwise distinct: it names nobody."""


async def caller_lookup(conn: Queryable, identifier_key: str) -> CallerLookup:
    """The card of every surviving customer ``identifier_key`` leads to, and whether it was
    found shared. One round trip when nobody it leads to was merged (the usual case)."""
    rows = await conn.fetch(_ALONE, identifier_key)
    if not all(r["alone"] for r in rows):
        found = await families_for(conn, identifier_key)
        survivors = [f.survivor for f in found for _ in f.ids]
        members = [member for f in found for member in f.ids]
        rows = await conn.fetch(_CARDS, survivors, members, identifier_key)
    cards = [_card(r["survivor"], r) for r in sorted(rows, key=lambda r: str(r["survivor"]))]
    return CallerLookup(cards, shared=any(r["shared"] for r in rows))


async def caller_cards(conn: Queryable, identifier_key: str) -> list[dict[str, Any]]:
    """The card of every surviving customer ``identifier_key`` leads to, by customer id."""
    return (await caller_lookup(conn, identifier_key)).cards


async def caller_card(conn: Queryable, customer_id: str, keys: Sequence[str]) -> dict[str, Any]:
    """``keys``: the customer and every id merged into it. One round trip."""
    return _card(customer_id, await conn.fetchrow(_CARD, list(keys)))


def _card(customer_id: str, row: Any) -> dict[str, Any]:
    name: Any = json.loads(row["name"]) if row and row["name"] else {}
    if not isinstance(name, dict):  # "[erased]": the key it was sealed with is shredded
        name = {"given_name": name, "family_name": name}
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
