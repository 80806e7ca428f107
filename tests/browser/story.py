"""The customers the browser tests open: one caller with every tier of data and a
memorable word, and one with years of history."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from api.verification import hash_answer
from projections.triggers.model import Kind, Suppression, Trigger
from tests.factories import BASE_TIME, event_dict
from tests.integration.trigger_support import make_trigger

STORED_PHONE = "06 28 23 04 55"
DIALLED_PHONE = "+33 (0)6-28-23-04-55"
"""The same number as a phone system passes it: another written form than the stored one."""
EMAIL = "siobhan.browser@example.ie"
WORD = "Bluebell"
HISTORY_ID = "C-HISTORY"
HISTORY_WORD = "kingfisher"
HISTORY_EVENTS = 5000

SERVICE_SENTINEL = "SENTINEL-DISPATCH"
RESTRICTED_SENTINELS = ("1961-07-14", "over_100k", "$argon2id$")
"""Restricted values (the verification hash too): never in anything an agent receives."""


def _event(kind: str, subject: dict[str, Any], message_id: str, at: Any, **changes: Any) -> Any:
    data = event_dict(kind, message_id=message_id, at=at)
    data["subject"] = subject
    data.update(changes)
    return data


def caller_events() -> list[dict[str, Any]]:
    subject = {"email": EMAIL, "phone": STORED_PHONE}
    profile = {
        "name": {
            "title": "Ms",
            "given_name": "Siobhán",
            "family_name": "Niamh",
            "pronunciation": "shiv-AWN NEEV",
        },
        "emails": [{"use": "personal", "address": EMAIL, "primary": True}],
        "dispatch_instructions": SERVICE_SENTINEL,
        "date_of_birth": "1961-07-14",
        "income_band": "over_100k",
    }
    secret = {"kind": "memorable_word", "answer_hash": hash_answer(WORD)}
    return [
        _event("call.logged", subject, "sn-1", BASE_TIME, type="profile.updated", payload=profile),
        _event("complaint.opened", {"email": EMAIL}, "sn-2", BASE_TIME + timedelta(hours=1)),
        _event("call.logged", {"phone": STORED_PHONE}, "sn-3", BASE_TIME + timedelta(hours=2)),
        _event(
            "call.logged",
            {"email": EMAIL},
            "sn-4",
            BASE_TIME + timedelta(hours=3),
            type="verification.set",
            payload=secret,
        ),
    ]


def history_events() -> list[dict[str, Any]]:
    """Years of touchpoints of one customer, on three channels and two business units."""
    subject = {"customer_id": HISTORY_ID}
    kinds = ("call.logged", "email.received", "web_form.submitted")
    events = [
        _event(
            kinds[i % 3],
            subject,
            f"h-{i:05d}",
            BASE_TIME - timedelta(hours=23 * i),
            source={
                "system": "legacy-crm",
                "business_unit": ("retail", "travel")[i % 2],
                "channel": ("phone", "email", "web")[i % 3],
            },
        )
        for i in range(HISTORY_EVENTS)
    ]
    name = {"name": {"given_name": "Harriet", "family_name": "Long"}}
    secret = {"kind": "memorable_word", "answer_hash": hash_answer(HISTORY_WORD)}
    at = BASE_TIME + timedelta(minutes=5)
    events.append(
        _event("call.logged", subject, "h-name", at, type="profile.updated", payload=name)
    )
    events.append(
        _event("call.logged", subject, "h-secret", at, type="verification.set", payload=secret)
    )
    return events


def duplicate_events() -> list[dict[str, Any]]:
    """Two customers with one name and one postcode but their own emails: the identity
    report suspects they are one person; a manager decides."""
    address = {
        "lines": ["4 Elm Rd"],
        "locality": "Cork",
        "postal_code": "T12 X70A",
        "country": "IE",
    }
    events = []
    for n, email in enumerate(("tom.byrne@example.ie", "tbyrne@work.example")):
        profile = {
            "name": {"given_name": "Tom", "family_name": "Byrne"},
            "emails": [{"use": "personal", "address": email, "primary": True}],
            "addresses": [address],
        }
        at = BASE_TIME + timedelta(days=n)
        events.append(
            _event(
                "call.logged",
                {"email": email},
                f"tb-{n}",
                at,
                type="profile.updated",
                payload=profile,
            )
        )
    return events


LANDLINE = "04 72 00 00 01"


def household_events() -> list[dict[str, Any]]:
    """Two customers a business unit knows by id, on one landline."""
    return [
        _event("call.logged", {"customer_id": f"C-{n}", "phone": written}, f"hh-{n}", BASE_TIME)
        for n, written in ((100, LANDLINE), (200, "04.72.00.00.01"))
    ]


def triggers() -> tuple[Trigger, ...]:
    """What the rules raised for the customer with a history: a call-back to make, an
    offer, and an offer not sent during an open complaint (for the manager)."""
    return (
        make_trigger("service-callback", HISTORY_ID, kind=Kind.SERVICE, channel="phone"),
        make_trigger("cross-sell-tv", HISTORY_ID),
        make_trigger("cross-sell-tv", HISTORY_ID, suppressed=Suppression.OPEN_COMPLAINT),
    )


@functools.cache
def all_events() -> tuple[dict[str, Any], ...]:
    return (*caller_events(), *duplicate_events(), *household_events(), *history_events())
