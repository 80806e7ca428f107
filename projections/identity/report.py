"""The identity report for people: merges made, suspected duplicates the rules left apart,
and identifiers resolution found shared (for a person to confirm into ``shared_numbers``).

A suspected duplicate is a pair of different surviving customers whose latest
``profile.updated`` details give the same name (given + family; case, accents and
spacing ignored) and the same postcode in the same country, and who share no identifier
the rules match on. A person confirms one (a ``customer.merged`` event) or rejects it (a
``customer.merge_rejected``, see ``decisions``); pairs rejected, or kept apart by a split,
are not listed.
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
from projections.identity.family import Family, every_family
from projections.timeline.postgres import TABLE as TIMELINE

# Per customer record: its latest name and its latest addresses (an absent field in a
# profile.updated is unchanged, so each comes from the latest event that carries it).
_PROFILES = f"""
WITH names AS (
    SELECT DISTINCT ON (subject_key) subject_key, payload -> 'name' AS name
    FROM {TIMELINE} WHERE type = 'profile.updated' AND payload ? 'name'
    ORDER BY subject_key, occurred_at DESC, source_system DESC, message_id DESC
), addresses AS (
    SELECT DISTINCT ON (subject_key) subject_key, payload -> 'addresses' AS addresses
    FROM {TIMELINE} WHERE type = 'profile.updated' AND payload ? 'addresses'
    ORDER BY subject_key, occurred_at DESC, source_system DESC, message_id DESC
)
SELECT n.subject_key, n.name::text AS name, a.addresses::text AS addresses
FROM names n JOIN addresses a USING (subject_key)
"""

_DECIDED_APART = (
    "SELECT a, b FROM identity_kept_apart UNION SELECT a, b FROM identity_rejected_pairs"
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
class SharedIdentifier:
    """An identifier found on people otherwise distinct: it matches nobody any more."""

    identifier: str
    reason: str
    message_id: str
    """The event that showed it shared."""
    detected_at: datetime
    customers: list[str]
    """The surviving customers it leads to."""


@dataclass(frozen=True, slots=True)
class IdentityReport:
    merges: list[MergeMade]
    suspected_duplicates: list[SuspectedDuplicate]
    shared_identifiers: list[SharedIdentifier] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "merges": [{**asdict(m), "merged_at": m.merged_at.isoformat()} for m in self.merges],
            "suspected_duplicates": [asdict(s) for s in self.suspected_duplicates],
            "shared_identifiers": [
                {**asdict(s), "detected_at": s.detected_at.isoformat()}
                for s in self.shared_identifiers
            ],
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
    family = await every_family(conn)
    rows = await conn.fetch(
        "SELECT survivor, merged, reason, message_id, merged_at FROM identity_merges "
        "ORDER BY merged_at, message_id, merged"
    )
    return [
        MergeMade(**dict(r), in_effect=_together(family, r["survivor"], r["merged"])) for r in rows
    ]


def _together(family: Mapping[str, Family], a: str, b: str) -> bool:
    return a in family and b in family and family[a] is family[b]


async def suspected_duplicates(conn: Queryable) -> list[SuspectedDuplicate]:
    family = await every_family(conn)
    profiles = [
        Profile(
            family[r["subject_key"]].survivor,
            family[r["subject_key"]].born_at,
            json.loads(r["name"]),
            json.loads(r["addresses"]),
        )
        for r in await conn.fetch(_PROFILES)
        if r["subject_key"] in family
    ]
    apart = [
        (family[r["a"]].survivor, family[r["b"]].survivor)
        for r in await conn.fetch(_DECIDED_APART)
        if r["a"] in family and r["b"] in family and not _together(family, r["a"], r["b"])
    ]
    pairs = suspected_pairs(profiles, apart)
    survivors = {c for p in pairs for c in (p.customer, p.other)}
    members = {m: family[m].survivor for s in survivors for m in family[s].ids}
    rows = await conn.fetch(
        "SELECT customer_id, identifier FROM identity_links WHERE customer_id = ANY($1::text[]) "
        "ORDER BY identifier",
        sorted(members),
    )
    identifiers: dict[str, list[str]] = {}
    for r in rows:
        identifiers.setdefault(members[r["customer_id"]], []).append(r["identifier"])
    return [
        replace(p, identifiers={c: identifiers.get(c, []) for c in (p.customer, p.other)})
        for p in pairs
    ]


async def shared_identifiers(conn: Queryable) -> list[SharedIdentifier]:
    """Identifiers found shared, oldest finding first, with the customers they lead to."""
    rows = await conn.fetch(
        "SELECT s.identifier, s.reason, s.message_id, s.detected_at, "
        "array_remove(array_agg(l.customer_id ORDER BY l.customer_id), NULL) AS linked "
        "FROM identity_shared s LEFT JOIN identity_links l USING (identifier) "
        "GROUP BY s.identifier, s.reason, s.message_id, s.detected_at "
        "ORDER BY s.detected_at, s.identifier"
    )
    if not rows:
        return []
    family = await every_family(conn)
    return [
        SharedIdentifier(
            r["identifier"],
            r["reason"],
            r["message_id"],
            r["detected_at"],
            sorted({family[c].survivor for c in r["linked"] if c in family}),
        )
        for r in rows
    ]


async def ready(conn: Queryable) -> bool:
    """Whether the tables the report reads exist (``touchlog init`` creates them)."""
    present: bool = await conn.fetchval(
        "SELECT to_regclass('identity_rejected_pairs') IS NOT NULL "
        "AND to_regclass($1::text) IS NOT NULL",
        TIMELINE,
    )
    return present


async def identity_report(conn: Queryable) -> IdentityReport:
    return IdentityReport(
        await merges_made(conn), await suspected_duplicates(conn), await shared_identifiers(conn)
    )
