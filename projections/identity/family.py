"""A customer's merge family, as the read side follows it: the surviving customer and
every id merged into it, directly or through a chain.

Merges form a forest (each customer points at the one it was merged into), so a family
is one tree: it is found by walking to neighbours, both up (``merged_into``) and down
(the customers merged into one), a level per round trip. As in ``postgres.py``, the walk
is a few indexed look-ups, not a recursive CTE (whose row estimates lead PostgreSQL to
sequential scans). Many customers are followed in the same walk: the number of round
trips depends on the depth of the chains, not on how many customers are asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.db import Queryable

_COLUMNS = "c.customer_id, c.merged_into, c.born_at, c.born_from"

_NEIGHBOURS = (
    f"SELECT {_COLUMNS} FROM identity_customers c "
    "WHERE c.customer_id = ANY($1::text[]) OR c.merged_into = ANY($1::text[])"
)

# The first level of a walk from identifiers: the customers they are linked to, and the
# customers merged into those (usually nobody: one round trip).
_LINKED = (
    f"SELECT {_COLUMNS}, true AS linked FROM identity_links l "
    "JOIN identity_customers c USING (customer_id) WHERE l.identifier = ANY($1::text[]) "
    f"UNION SELECT {_COLUMNS}, false FROM identity_links l "
    "JOIN identity_customers c ON c.merged_into = l.customer_id "
    "WHERE l.identifier = ANY($1::text[])"
)


@dataclass(frozen=True, slots=True)
class Family:
    survivor: str
    ids: list[str]
    """The survivor and every customer merged into it, sorted."""
    born_at: datetime
    """When the survivor was first seen."""


async def families(conn: Queryable, customer_ids: Iterable[str]) -> dict[str, Family]:
    """The family of each customer id given, by that id; unknown ids are left out."""
    wanted = set(customer_ids)
    start = sorted(wanted)
    found = await _walked(conn, start, await conn.fetch(_NEIGHBOURS, start))
    return {member: f for f in found for member in f.ids if member in wanted}


async def family_of(conn: Queryable, customer_id: str) -> Family | None:
    return (await families(conn, [customer_id])).get(customer_id)


async def families_for(conn: Queryable, identifier_key: str) -> list[Family]:
    """The families an identifier (e.g. ``phone:+33628230455``) leads to, by survivor."""
    rows = await conn.fetch(_LINKED, [identifier_key])
    return await _walked(conn, [r["customer_id"] for r in rows if r["linked"]], rows)


async def identifiers_of(conn: Queryable, family: Family) -> list[str]:
    """Every identifier linked to any customer of the family, sorted."""
    rows = await conn.fetch(
        "SELECT DISTINCT identifier FROM identity_links WHERE customer_id = ANY($1::text[]) "
        "ORDER BY identifier",
        family.ids,
    )
    return [r["identifier"] for r in rows]


class _Walk:
    """Customers met so far, and those whose neighbours were asked for."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.expanded: set[str] = set()

    def add(self, asked: Iterable[str], rows: Iterable[Any]) -> list[str]:
        """Record a level; the customers to ask about next."""
        self.expanded.update(asked)
        self.rows.update((r["customer_id"], r) for r in rows)
        parents = {r["merged_into"] for r in self.rows.values() if r["merged_into"]}
        return sorted((self.rows.keys() | parents) - self.expanded)

    def survivor(self, customer_id: str) -> str:
        while self.rows[customer_id]["merged_into"]:
            customer_id = self.rows[customer_id]["merged_into"]
        return str(customer_id)


async def _walk(conn: Queryable, asked: list[str], rows: list[Any]) -> _Walk:
    """The walk to the end, from its first level: ``rows``, the neighbours of ``asked``."""
    walk = _Walk()
    frontier = walk.add(asked, rows)
    while frontier:
        frontier = walk.add(frontier, await conn.fetch(_NEIGHBOURS, frontier))
    return walk


async def _walked(conn: Queryable, asked: list[str], rows: list[Any]) -> list[Family]:
    return _families(await _walk(conn, asked, rows))


async def members(conn: Queryable, customer_ids: Iterable[str]) -> dict[str, Any]:
    """Every customer of the families of these ids: its ``identity_customers`` row, by id
    (what the resolver loads before it resolves a batch)."""
    start = sorted(set(customer_ids))
    return (await _walk(conn, start, await conn.fetch(_NEIGHBOURS, start))).rows


async def every_family(conn: Queryable) -> dict[str, Family]:
    """Every customer's family, by member id, from one read of the whole table: for
    reports over all customers."""
    walk = _Walk()
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM identity_customers c")
    walk.add([r["customer_id"] for r in rows], rows)
    return {member: family for family in _families(walk) for member in family.ids}


def _families(walk: _Walk) -> list[Family]:
    members: dict[str, list[str]] = {}
    for customer_id in walk.rows:
        members.setdefault(walk.survivor(customer_id), []).append(customer_id)
    return [
        Family(survivor, sorted(ids), walk.rows[survivor]["born_at"])
        for survivor, ids in sorted(members.items())
    ]
