"""``GET /customers?query=``: reps find a customer by name, email, phone or postcode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Representative
from api.deps import Pool, Rules
from projections.identity import postgres as identity
from projections.profile import BY_NAME, profile_of
from projections.profile import postgres as store
from projections.profile.search import EMAIL, PHONE, lookups

router = APIRouter(tags=["customers"])

CARD_FIELDS = ("title", "name", "pronunciation", "emails", "phones", "addresses")
"""Essential fields only: search is how a rep finds someone, not how they read them."""
_CARD_KINDS = sorted(kind for name in CARD_FIELDS for kind in BY_NAME[name].kinds)


class Match(BaseModel):
    customer_id: str
    matched_on: list[str]
    """What the query matched: name, email, phone, postcode (a current or a former value)."""
    card: dict[str, Any]


class SearchResult(BaseModel):
    query: str
    matches: list[Match]


@router.get("/customers", response_model=SearchResult)
async def search(
    pool: Pool,
    rules: Rules,
    caller: Representative,
    query: Annotated[
        str,
        Query(
            min_length=2,
            max_length=200,
            description="Name, email, phone (any written form) or postcode.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResult:
    readings = lookups(query, rules.default_region)
    found = await store.find(pool, readings, limit)
    for reading in readings:  # identifiers seen on events, not only those in profiles
        for lookup in reading:
            if lookup.kind in (EMAIL, PHONE):
                for survivor in await identity.customers_for(pool, f"{lookup.kind}:{lookup.term}"):
                    found.setdefault(survivor, set()).add(lookup.kind)
    by_survivor: dict[str, set[str]] = {}
    for customer_id, kinds in found.items():
        survivor = await identity.survivor_of(pool, customer_id) or customer_id
        by_survivor.setdefault(survivor, set()).update(kinds)
    matches = []
    for survivor in sorted(by_survivor)[:limit]:
        ids = await identity.merged_ids(pool, survivor)
        facts = await store.load_facts(pool, sorted({*ids, survivor}), kinds=_CARD_KINDS)
        values = profile_of(facts, None, datetime.now(UTC)).values
        card = {name: values[name] for name in CARD_FIELDS}
        matches.append(
            Match(customer_id=survivor, matched_on=sorted(by_survivor[survivor]), card=card)
        )
    return SearchResult(query=query, matches=matches)
