"""The events ``benchmarks.pipeline`` publishes: a realistic mix of subjects.

Each simulated person has a customer id, an email, a mobile and a loyalty number. An
event names them the way one channel system would: by customer id alone (a signed-in
channel), by one identifier (email desk, call centre, till), or by two at once (a form
with email and phone, a till that knows the customer id and the loyalty card), so that
identity resolution creates customers, links identifiers and merges as evidence arrives.
Phones and emails are written in the forms people write them. Events happened in the
hour before the run, as live traffic does (a history dated months back would make every
timer of the trigger rules due at once: a replay, not the live load measured here).
"""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from events import Touchpoint, from_mapping
from tests.factories import KINDS, UNITS, _written_phone, event_dict

# Which identifiers an event carries, and how often (weights).
SUBJECT_SHAPES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("customer_id",), 30),
    (("email",), 20),
    (("phone",), 15),
    (("external_ids",), 10),
    (("email", "phone"), 10),
    (("customer_id", "email"), 8),
    (("customer_id", "external_ids"), 4),
    (("phone", "external_ids"), 3),
)


def mixed_events(count: int, people: int, *, seed: int = 17, prefix: str = "") -> list[Touchpoint]:
    """``count`` valid events about ``people`` persons (ids prefixed with ``prefix``)."""
    rng = random.Random(seed)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    shapes = [shape for shape, _ in SUBJECT_SHAPES]
    weights = [weight for _, weight in SUBJECT_SHAPES]
    events = []
    for i in range(count):
        n = rng.randrange(people)
        unit = rng.choice(UNITS)
        known: dict[str, Any] = {
            "customer_id": f"{prefix}cust-{n:06d}",
            "email": rng.choice([f"{prefix}p{n}@example.com", f"{prefix}P{n}@Example.com"]),
            "phone": _written_phone(rng, f"6{zlib.crc32(prefix.encode()) % 100:02d}{n:06d}"),
            "external_ids": [{"type": "loyalty", "id": f"{prefix}L{n:07d}"}],
        }
        (shape,) = rng.choices(shapes, weights)
        data = event_dict(
            rng.choice(KINDS),
            message_id=f"{prefix}mix-{i:08d}",
            at=hour_ago + timedelta(seconds=rng.randrange(3600)),
            business_unit=unit,
        )
        data["subject"] = {key: known[key] for key in shape}
        events.append(from_mapping(data))
    return events
