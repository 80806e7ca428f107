"""The data inventory's counts, from the timeline and profile views (read only)."""

from __future__ import annotations

from projections.db import Queryable
from projections.inventory import Source, TypeCount
from projections.profile.postgres import FACTS
from projections.timeline.postgres import TABLE as TIMELINE

_BY_TYPE = f"""
SELECT source_system, business_unit, type, count(*) AS events,
       count(DISTINCT subject_key) AS customers,
       min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
FROM {TIMELINE}
GROUP BY source_system, business_unit, type
ORDER BY source_system, business_unit, type
"""

_CONSENT = f"""
WITH seen AS (
    SELECT DISTINCT source_system, business_unit, subject_key FROM {TIMELINE}
), consented AS (
    SELECT DISTINCT customer_id FROM {FACTS} WHERE kind = 'consent'
)
SELECT s.source_system, s.business_unit, count(*) AS customers,
       count(c.customer_id) AS with_consent
FROM seen s LEFT JOIN consented c ON c.customer_id = s.subject_key
GROUP BY s.source_system, s.business_unit
"""


async def sources(conn: Queryable) -> list[Source]:
    """Every source system and business unit the timeline holds events from, with its
    event types' counts and its customers' consent coverage (a customer has a consent
    record if the profile holds any consent fact for its id)."""
    found: dict[tuple[str, str], Source] = {}
    for row in await conn.fetch(_BY_TYPE):
        key = (row["source_system"], row["business_unit"])
        source = found.setdefault(key, Source(*key))
        source.types.append(
            TypeCount(
                row["type"],
                row["events"],
                row["customers"],
                row["first_seen"],
                row["last_seen"],
            )
        )
    for row in await conn.fetch(_CONSENT):
        source = found[(row["source_system"], row["business_unit"])]
        source.customers = row["customers"]
        source.customers_with_consent = row["with_consent"]
    return list(found.values())
