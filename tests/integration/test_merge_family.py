"""A customer's merge family as the read side follows it: up and down merge chains, from
customer ids or from an identifier, many customers in one walk."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from projections import db
from projections.caller.postgres import caller_cards
from projections.identity import postgres as identity
from projections.identity.family import families, families_for, family_of, identifiers_of
from projections.timeline.postgres import SCHEMA as TIMELINE

BORN = datetime(2026, 1, 1, tzinfo=UTC)


async def _graph(pool: asyncpg.Pool) -> None:
    """a ← b ← c (c merged into b, b into a), a ← e; d alone; f and g share a phone."""
    async with pool.acquire() as conn:
        await db.create_tables(conn, identity.SCHEMA, TIMELINE)
        await conn.executemany(
            "INSERT INTO identity_customers (customer_id, born_at, born_from) VALUES ($1, $2, 'x')",
            [(c, BORN) for c in "abcdefg"],
        )
        await conn.executemany(
            "UPDATE identity_customers SET merged_into = $2 WHERE customer_id = $1",
            [("b", "a"), ("c", "b"), ("e", "a")],
        )
        await conn.executemany(
            "INSERT INTO identity_links (identifier, customer_id, source_system, message_id, "
            "linked_at) VALUES ($1, $2, 'crm', $3, $4)",
            [
                ("email:c@example.com", "c", "m1", BORN),
                ("email:a@example.com", "a", "m2", BORN),
                ("phone:+33600000000", "f", "m3", BORN),
                ("phone:+33600000000", "g", "m4", BORN),
            ],
        )


async def test_a_family_is_the_whole_merge_tree_from_any_member(pool: asyncpg.Pool) -> None:
    await _graph(pool)
    for member in "abce":
        family = await family_of(pool, member)
        assert family is not None
        assert (family.survivor, family.ids, family.born_at) == ("a", list("abce"), BORN)
    assert (await family_of(pool, "d")).ids == ["d"]  # type: ignore[union-attr]
    assert await family_of(pool, "nobody") is None
    found = await families(pool, ["c", "d", "nobody"])
    assert {k: f.survivor for k, f in found.items()} == {"c": "a", "d": "d"}
    assert await identifiers_of(pool, found["c"]) == ["email:a@example.com", "email:c@example.com"]


async def test_an_identifier_leads_to_the_families_of_its_customers(pool: asyncpg.Pool) -> None:
    await _graph(pool)
    [family] = await families_for(pool, "email:c@example.com")  # linked to a merged one
    assert (family.survivor, family.ids) == ("a", list("abce"))
    shared = await families_for(pool, "phone:+33600000000")
    assert [(f.survivor, f.ids) for f in shared] == [("f", ["f"]), ("g", ["g"])]
    assert await families_for(pool, "email:nobody@example.com") == []
    cards = await caller_cards(pool, "email:c@example.com")
    assert [c["customer_id"] for c in cards] == ["a"]
    assert [c["customer_id"] for c in await caller_cards(pool, "phone:+33600000000")] == ["f", "g"]
