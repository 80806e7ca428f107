"""Caller cards, read from the timeline of a customer and of those merged into it.

Essential tier only: name, title, pronunciation, last contact, open complaints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.db import Queryable
from projections.timeline.postgres import TABLE

_CARD = f"""
SELECT
    (SELECT payload->'name' FROM {TABLE}
     WHERE subject_key = ANY($1::text[]) AND type = 'profile.updated' AND payload ? 'name'
     ORDER BY occurred_at DESC LIMIT 1) AS name,
    (SELECT row(occurred_at, type, channel) FROM {TABLE}
     WHERE subject_key = ANY($1::text[]) ORDER BY occurred_at DESC LIMIT 1) AS last_contact,
    (SELECT count(*) FROM (
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY($1::text[]) AND type = 'complaint.opened'
        EXCEPT
        SELECT payload->>'case_id' FROM {TABLE}
        WHERE subject_key = ANY($1::text[]) AND type = 'complaint.resolved'
    ) open_cases) AS open_complaints
"""


async def caller_card(conn: Queryable, customer_id: str, keys: Sequence[str]) -> dict[str, Any]:
    """``keys``: the customer and every id merged into it. One round trip."""
    row = await conn.fetchrow(_CARD, list(keys))
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
