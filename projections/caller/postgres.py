"""Caller cards, read from the timeline of a customer and of those merged into it.

Essential tier only: name, title, pronunciation, last contact, open complaints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.db import Queryable
from projections.timeline.postgres import TABLE

_LATEST_NAME = f"""
SELECT payload->'name' AS name FROM {TABLE}
WHERE subject_key = ANY($1::text[]) AND type = 'profile.updated' AND payload ? 'name'
ORDER BY occurred_at DESC LIMIT 1
"""
_LAST_CONTACT = f"""
SELECT occurred_at, type, channel FROM {TABLE}
WHERE subject_key = ANY($1::text[]) ORDER BY occurred_at DESC LIMIT 1
"""
_OPEN_COMPLAINTS = f"""
SELECT count(*) FROM (
    SELECT payload->>'case_id' AS case_id FROM {TABLE}
    WHERE subject_key = ANY($1::text[]) AND type = 'complaint.opened'
    EXCEPT
    SELECT payload->>'case_id' FROM {TABLE}
    WHERE subject_key = ANY($1::text[]) AND type = 'complaint.resolved'
) open_cases
"""


async def caller_card(conn: Queryable, customer_id: str, keys: Sequence[str]) -> dict[str, Any]:
    """``keys``: the customer and every id merged into it."""
    name_row = await conn.fetchrow(_LATEST_NAME, list(keys))
    name: dict[str, Any] = json.loads(name_row["name"]) if name_row else {}
    last = await conn.fetchrow(_LAST_CONTACT, list(keys))
    open_complaints: int = await conn.fetchval(_OPEN_COMPLAINTS, list(keys))
    return {
        "customer_id": customer_id,
        "title": name.get("title"),
        "given_name": name.get("given_name"),
        "family_name": name.get("family_name"),
        "pronunciation": name.get("pronunciation"),
        "last_contact": (
            {"at": last["occurred_at"], "type": last["type"], "channel": last["channel"]}
            if last
            else None
        ),
        "open_complaints": open_complaints,
    }
