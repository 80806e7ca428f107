"""The identity report for people: merges made, and suspected duplicates the rules left apart.

A suspected duplicate is a pair of different surviving customers whose latest
``profile.updated`` details give the same name (given + family; case, accents and
spacing ignored) and the same postcode in the same country, and who share no identifier
the rules match on. A person confirms one (a ``customer.merged`` event) or rejects it
(``identity_rejected_pairs``); pairs rejected, or kept apart by a split, are not listed.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from projections.db import Queryable
from projections.identity.postgres import survivor_of
from projections.timeline.postgres import TABLE as TIMELINE

SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_rejected_pairs (
    a            text        NOT NULL,
    b            text        NOT NULL,
    rejected_by  text        NOT NULL,
    reason       text,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
"""

# Every customer with the customer it ends up in (itself if never merged).
_SURVIVORS = """
WITH RECURSIVE survivors(customer_id, survivor) AS (
    SELECT customer_id, customer_id FROM identity_customers WHERE merged_into IS NULL
    UNION ALL
    SELECT c.customer_id, s.survivor
    FROM identity_customers c JOIN survivors s ON c.merged_into = s.customer_id
)
"""

# Per customer record: its latest name and its latest addresses (an absent field in a
# profile.updated is unchanged, so each comes from the latest event that carries it).
_PROFILES = (
    _SURVIVORS
    + f"""
, names AS (
    SELECT DISTINCT ON (subject_key) subject_key, payload -> 'name' AS name
    FROM {TIMELINE} WHERE type = 'profile.updated' AND payload ? 'name'
    ORDER BY subject_key, occurred_at DESC, source_system DESC, message_id DESC
), addresses AS (
    SELECT DISTINCT ON (subject_key) subject_key, payload -> 'addresses' AS addresses
    FROM {TIMELINE} WHERE type = 'profile.updated' AND payload ? 'addresses'
    ORDER BY subject_key, occurred_at DESC, source_system DESC, message_id DESC
)
SELECT s.survivor, c.born_at, n.name::text AS name, a.addresses::text AS addresses
FROM names n
JOIN addresses a USING (subject_key)
JOIN survivors s ON s.customer_id = n.subject_key
JOIN identity_customers c ON c.customer_id = s.survivor
"""
)

_DECIDED_APART = (
    _SURVIVORS
    + """
, pairs(a, b) AS (
    SELECT a, b FROM identity_kept_apart UNION SELECT a, b FROM identity_rejected_pairs
)
SELECT sa.survivor AS a, sb.survivor AS b
FROM pairs p
JOIN survivors sa ON sa.customer_id = p.a
JOIN survivors sb ON sb.customer_id = p.b
WHERE sa.survivor <> sb.survivor
"""
)


@dataclass(frozen=True, slots=True)
class MergeMade:
    survivor: str
    merged: str
    reason: str
    message_id: str
    merged_at: datetime
    in_effect: bool  # False once a split undid it


@dataclass(frozen=True, slots=True)
class SuspectedDuplicate:
    """Two customers, the older first (the survivor if confirmed)."""

    customer: str
    other: str
    name: str
    postal_code: str
    country: str
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    """Per customer, every identifier leading to it: what a person decides on."""


@dataclass(frozen=True, slots=True)
class IdentityReport:
    merges: list[MergeMade]
    suspected_duplicates: list[SuspectedDuplicate]

    def as_json(self) -> dict[str, Any]:
        return {
            "merges": [{**asdict(m), "merged_at": m.merged_at.isoformat()} for m in self.merges],
            "suspected_duplicates": [asdict(s) for s in self.suspected_duplicates],
        }


# --- pure ------------------------------------------------------------------------------


def name_key(name: Mapping[str, Any]) -> str | None:
    """Given + family name, case-folded, accents stripped, spacing collapsed; None if blank."""
    written = " ".join(str(name.get(part) or "") for part in ("given_name", "family_name"))
    decomposed = unicodedata.normalize("NFKD", written.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    key = " ".join(re.sub(r"[\s\-'.,]+", " ", plain).split())
    return key or None


def postcode_key(postal_code: str) -> str:
    """``se1 7pb``, ``SE1-7PB`` and ``SE17PB`` are one postcode."""
    return re.sub(r"[^0-9A-Z]", "", postal_code.upper())


@dataclass(frozen=True, slots=True)
class Profile:
    """A customer record's latest name and addresses, under its surviving customer."""

    survivor: str
    born_at: datetime
    name: Mapping[str, Any]
    addresses: Iterable[Mapping[str, Any]]


def _display(name: Mapping[str, Any]) -> str:
    return " ".join(str(name[p]) for p in ("given_name", "family_name") if name.get(p))


def suspected_pairs(
    profiles: Iterable[Profile], apart: Iterable[tuple[str, str]]
) -> list[SuspectedDuplicate]:
    """Each pair of surviving customers with the same name and postcode, older first;
    pairs decided apart (rejected, or split) are left out."""
    decided = {frozenset(pair) for pair in apart}
    age: dict[str, tuple[datetime, str]] = {}
    groups: dict[tuple[str, str, str], dict[str, tuple[str, str]]] = {}
    for profile in profiles:
        age[profile.survivor] = (profile.born_at, profile.survivor)
        name = name_key(profile.name)
        for address in profile.addresses:
            postal_code = str(address.get("postal_code") or "")
            if name is None or not postcode_key(postal_code):
                continue
            key = (name, postcode_key(postal_code), str(address.get("country", "")))
            members = groups.setdefault(key, {})
            members.setdefault(profile.survivor, (_display(profile.name), postal_code))
    found: dict[tuple[str, str], SuspectedDuplicate] = {}
    for (_, _, country), members in groups.items():
        for a, b in itertools.combinations(sorted(members, key=age.__getitem__), 2):
            if frozenset((a, b)) not in decided and (a, b) not in found:
                found[(a, b)] = SuspectedDuplicate(a, b, *members[a], country)
    return [found[pair] for pair in sorted(found, key=lambda p: (age[p[0]], age[p[1]]))]


# --- reads -----------------------------------------------------------------------------


async def merges_made(conn: Queryable) -> list[MergeMade]:
    rows = await conn.fetch(
        _SURVIVORS
        + """
        SELECT m.survivor, m.merged, m.reason, m.message_id, m.merged_at,
               ss.survivor IS NOT DISTINCT FROM sm.survivor AS in_effect
        FROM identity_merges m
        LEFT JOIN survivors ss ON ss.customer_id = m.survivor
        LEFT JOIN survivors sm ON sm.customer_id = m.merged
        ORDER BY m.merged_at, m.message_id, m.merged
        """
    )
    return [MergeMade(**dict(r)) for r in rows]


async def suspected_duplicates(conn: Queryable) -> list[SuspectedDuplicate]:
    rows = await conn.fetch(_PROFILES)
    profiles = [
        Profile(r["survivor"], r["born_at"], json.loads(r["name"]), json.loads(r["addresses"]))
        for r in rows
    ]
    apart = [(r["a"], r["b"]) for r in await conn.fetch(_DECIDED_APART)]
    pairs = suspected_pairs(profiles, apart)
    identifiers = await _identifiers(conn, {c for p in pairs for c in (p.customer, p.other)})
    return [
        replace(p, identifiers={c: identifiers.get(c, []) for c in (p.customer, p.other)})
        for p in pairs
    ]


async def _identifiers(conn: Queryable, survivors: set[str]) -> dict[str, list[str]]:
    rows = await conn.fetch(
        _SURVIVORS
        + """
        SELECT s.survivor, l.identifier
        FROM identity_links l JOIN survivors s USING (customer_id)
        WHERE s.survivor = ANY($1::text[])
        ORDER BY l.identifier
        """,
        sorted(survivors),
    )
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["survivor"], []).append(r["identifier"])
    return found


async def identity_report(conn: Queryable) -> IdentityReport:
    return IdentityReport(await merges_made(conn), await suspected_duplicates(conn))


# --- decisions -------------------------------------------------------------------------


class UnknownCustomer(LookupError):
    pass


async def _survivors(conn: Queryable, a: str, b: str) -> tuple[str, str]:
    found = []
    for customer_id in (a, b):
        survivor = await survivor_of(conn, customer_id)
        if survivor is None:
            raise UnknownCustomer(f"no customer {customer_id}")
        found.append(survivor)
    if found[0] == found[1]:
        raise ValueError(f"{a} and {b} are already one customer ({found[0]})")
    return found[0], found[1]


async def merge_decision(
    conn: Queryable, a: str, b: str, survivor: str | None = None
) -> tuple[str, str]:
    """(survivor, merged) for confirming that ``a`` and ``b`` are one person: their surviving
    customers, the older one surviving unless ``survivor`` (``a`` or ``b``) says otherwise."""
    if survivor is not None and survivor not in (a, b):
        raise ValueError(f"the survivor must be {a} or {b}, not {survivor}")
    sa, sb = await _survivors(conn, a, b)
    if survivor is not None:
        return (sa, sb) if survivor == a else (sb, sa)
    rows = await conn.fetch(
        "SELECT customer_id FROM identity_customers WHERE customer_id = ANY($1::text[]) "
        "ORDER BY born_at, customer_id",
        [sa, sb],
    )
    older, newer = (r["customer_id"] for r in rows)
    return older, newer


async def reject_pair(
    conn: Queryable, a: str, b: str, rejected_by: str, reason: str | None = None
) -> tuple[str, str]:
    """Record that ``a`` and ``b`` are different people; returns the pair as stored."""
    pair = tuple(sorted(await _survivors(conn, a, b)))
    await conn.execute(
        "INSERT INTO identity_rejected_pairs (a, b, rejected_by, reason) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (a, b) DO UPDATE SET rejected_by = EXCLUDED.rejected_by, "
        "reason = EXCLUDED.reason, rejected_at = now()",
        pair[0],
        pair[1],
        rejected_by,
        reason,
    )
    return pair[0], pair[1]
