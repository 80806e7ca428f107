"""Finding a customer: the customers a rep's query (a name, an email, a phone, a
postcode) finds, each as its family's survivor with an essential card.

A constant number of queries whatever it finds: the terms (one per word of the query),
the families of every match in one walk, and the facts of every card in one read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api.schemas import Match, SearchResult
from projections.db import Queryable
from projections.identity.family import families, families_for
from projections.profile import BY_NAME, Fact, profile_of
from projections.profile import postgres as profiles
from projections.profile.search import EMAIL, PHONE, Lookup

CARD_FIELDS = ("title", "name", "pronunciation", "emails", "phones", "addresses")
"""Essential fields only: search is how a rep finds someone, not how they read them."""
_CARD_KINDS = sorted(kind for name in CARD_FIELDS for kind in BY_NAME[name].kinds)


async def find_customers(
    conn: Queryable, readings: list[list[Lookup]], query: str, limit: int
) -> SearchResult:
    """Customers a name, email, phone or postcode (a current or a former one) finds,
    each with its essential card. A constant number of queries, whatever it finds."""
    matched = await profiles.find(conn, readings, limit)
    found = await families(conn, matched)
    kinds: dict[str, set[str]] = {}
    members: dict[str, list[str]] = {}
    for customer_id, matched_on in matched.items():
        family = found.get(customer_id)
        survivor, ids = (family.survivor, family.ids) if family else (customer_id, [customer_id])
        kinds.setdefault(survivor, set()).update(matched_on)
        members[survivor] = ids
    for lookup in (one for reading in readings for one in reading):
        if lookup.kind in (EMAIL, PHONE):  # identifiers seen on events, not in profiles
            for family in await families_for(conn, f"{lookup.kind}:{lookup.term}"):
                kinds.setdefault(family.survivor, set()).add(lookup.kind)
                members[family.survivor] = family.ids
    chosen = sorted(kinds)[:limit]
    cards = await _cards(conn, {survivor: members[survivor] for survivor in chosen})
    return SearchResult(
        query=query,
        matches=[Match(customer_id=s, matched_on=sorted(kinds[s]), card=cards[s]) for s in chosen],
    )


async def _cards(conn: Queryable, members: Mapping[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Each survivor's essential card, from the facts of its whole family."""
    survivor_of = {member: survivor for survivor, ids in members.items() for member in ids}
    facts = await profiles.load_facts(conn, sorted(survivor_of), kinds=_CARD_KINDS)
    by_family: dict[str, list[Fact]] = {survivor: [] for survivor in members}
    for fact in facts:
        by_family[survivor_of[fact.customer_id]].append(fact)
    now = datetime.now(UTC)
    return {
        survivor: {name: profile_of(held, None, now).values[name] for name in CARD_FIELDS}
        for survivor, held in by_family.items()
    }
