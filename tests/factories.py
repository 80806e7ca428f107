"""Builders of valid events for tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from events import Touchpoint, from_mapping

BASE_TIME = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def event_dict(
    kind: str = "call.logged",
    *,
    customer: str = "cust-1",
    at: datetime | None = None,
    message_id: str | None = None,
    channel: str | None = None,
    business_unit: str = "retail",
) -> dict[str, Any]:
    payloads: dict[str, tuple[str, dict[str, Any]]] = {
        "call.logged": (
            "phone",
            {
                "direction": "inbound",
                "duration_seconds": 184,
                "reason": "delivery date",
                "outcome": "date confirmed",
            },
        ),
        "web_form.submitted": (
            "web",
            {
                "form_id": "contact-us",
                "form_name": "Contact us",
                "fields": {"topic": "returns"},
                "message": "Hello",
            },
        ),
        "email.received": (
            "email",
            {"mailbox": "service@example.com", "subject_line": "Where is my order?"},
        ),
        "email.sent": (
            "email",
            {"mailbox": "service@example.com", "subject_line": "Your order is on its way"},
        ),
        "complaint.opened": (
            "phone",
            {
                "case_id": "C-1",
                "category": "delivery",
                "severity": "high",
                "description": "Parcel damaged",
            },
        ),
        "complaint.resolved": (
            "phone",
            {"case_id": "C-1", "resolution": "Replacement sent", "resolved_by": "agent-7"},
        ),
        "purchase.completed": (
            "store",
            {
                "order_id": "O-1",
                "currency": "EUR",
                "total": "59.80",
                "payment_method": "card",
                "lines": [
                    {"sku": "SKU-1", "category": "garden", "quantity": 2, "unit_price": "29.90"}
                ],
            },
        ),
    }
    default_channel, payload = payloads[kind]
    data: dict[str, Any] = {
        "type": kind,
        "occurred_at": (at or BASE_TIME).isoformat(),
        "source": {
            "system": "test-system",
            "business_unit": business_unit,
            "channel": channel or default_channel,
        },
        "subject": {"customer_id": customer},
        "payload": payload,
    }
    if message_id:
        data["message_id"] = message_id
    return data


def make_event(kind: str = "call.logged", **kwargs: Any) -> Touchpoint:
    return from_mapping(event_dict(kind, **kwargs))


KINDS = (
    "call.logged",
    "web_form.submitted",
    "email.received",
    "email.sent",
    "complaint.opened",
    "complaint.resolved",
    "purchase.completed",
)


def random_events(
    count: int, subjects: int, *, seed: int = 1, prefix: str = ""
) -> list[Touchpoint]:
    """``count`` valid events spread over ``subjects`` customers, unique message ids."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        kind = rng.choice(KINDS)
        events.append(
            make_event(
                kind,
                customer=f"{prefix}cust-{rng.randrange(subjects):04d}",
                at=BASE_TIME + timedelta(seconds=rng.randrange(10_000_000)),
                message_id=f"{prefix}msg-{i:07d}",
            )
        )
    return events


def money(value: str) -> Decimal:
    return Decimal(value)


def _written_phone(rng: random.Random, national: str) -> str:
    """One French mobile number (``6XXXXXXXX``) in one of the ways people write it."""
    pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
    return rng.choice(
        [
            f"0{national}",
            f"0{national[0]} {pairs}",
            f"0{national[0]}.{pairs.replace(' ', '.')}",
            f"+33{national}",
            f"+33 {national[0]} {pairs}",
            f"0033{national}",
            f"+33 (0){national[0]} {pairs}",
        ]
    )


UNITS = ("retail", "appliances", "theatre")


def identity_events(
    count: int, people: int, *, seed: int = 1, first_id: int = 0, per_unit_style: bool = False
) -> list[Touchpoint]:
    """Events that know people only by identifiers, written inconsistently across units.

    Each person has an email, a mobile and a loyalty number; each event carries one or
    two of them, so identity resolution creates customers and merges them as evidence
    arrives. Phones and emails are written in a random form per event — or, with
    ``per_unit_style``, in one form per (person, business unit), as a unit's system
    writes a customer's number the same way each time.
    """
    rng = random.Random(seed)
    persons = [(f"person{n}@example.com", f"6{n:08d}", f"L{n:06d}") for n in range(people)]
    events = []
    for i in range(count):
        email, mobile, loyalty = rng.choice(persons)
        unit = rng.choice(UNITS)
        style = random.Random(f"{mobile}/{unit}") if per_unit_style else rng
        written = {
            "email": style.choice([email, email.upper(), f" {email.capitalize()} "]),
            "phone": _written_phone(style, mobile),
            "external_ids": [{"type": "loyalty", "id": loyalty}],
        }
        chosen = rng.sample(sorted(written), k=rng.choice([1, 1, 2]))
        data = event_dict(
            rng.choice(KINDS),
            message_id=f"id-{first_id + i:07d}",
            at=BASE_TIME + timedelta(seconds=rng.randrange(10_000_000)),
            business_unit=unit,
        )
        data["subject"] = {k: written[k] for k in chosen}
        events.append(from_mapping(data))
    return events
